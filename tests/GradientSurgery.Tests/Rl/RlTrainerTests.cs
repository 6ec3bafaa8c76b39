using GradientSurgery.Experiments.Reinforcement;
using GradientSurgery.Rl;

namespace GradientSurgery.Tests.Rl;

/// <summary>The multi-task SAC trainer on the point-mass suite: it runs, logs, checkpoints and resumes bit for bit.</summary>
public sealed class RlTrainerTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"gsurg-rl-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static RlSettings Small(string method, int steps) =>
        new("pointmass", method, Seed: 3, steps, WarmupSteps: 20, BufferPerTask: 1000, EvaluateEvery: 30, EvaluationEpisodes: 2, new SacSettings([16, 16], BatchPerTask: 8));

    [Fact]
    public void ARunLogsEveryEvaluation()
    {
        var history = RlTrainer.Train(Small("pcgrad", 60), _directory, resume: false);
        Assert.Equal([30, 60], history.Select(r => r.Step));
    }
}
