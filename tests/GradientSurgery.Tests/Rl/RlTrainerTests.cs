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

    private string Run(string name) => Path.Combine(_directory, name);

    private static RlSettings Small(string method, int steps) =>
        new("pointmass", method, Seed: 3, steps, WarmupSteps: 20, BufferPerTask: 1000, EvaluateEvery: 30, EvaluationEpisodes: 2, new SacSettings([16, 16], BatchPerTask: 8));

    private static byte[] AgentBytes(string directory)
    {
        var (_, agent) = RlTrainer.LoadAgent(directory);
        using (agent)
        {
            using var stream = new MemoryStream();
            agent.Save(new BinaryWriter(stream));
            return stream.ToArray();
        }
    }

    // Every logged value except the wall-clock seconds.
    private static double[][] Logged(IEnumerable<RlRecord> history)
    {
        var seconds = RlTrainer.Columns(["goal-0", "goal-1", "goal-2", "goal-3"]).ToList().IndexOf("seconds");
        return [.. history.Select(r => r.Values.Where((_, k) => k != seconds).Prepend(r.Step).ToArray())];
    }

    [Fact]
    public void ARunLogsEveryEvaluationWithTheConflictsOfBothNetworks()
    {
        var history = RlTrainer.Train(Small("pcgrad", 60), _directory, resume: false);
        Assert.Equal([30, 60], history.Select(r => r.Step));
        var columns = RlTrainer.Columns(["goal-0", "goal-1", "goal-2", "goal-3"]).ToList();
        var last = history[^1].Values;
        Assert.Equal(240, last[columns.IndexOf("transitions")]);
        Assert.All(new[] { "critic_conflict_fraction", "actor_cosine", "mean_q", "temperature/goal-3" }, c => Assert.True(double.IsFinite(last[columns.IndexOf(c)]), c));
        Assert.InRange(last[columns.IndexOf("mean_success")], 0, 1);
        var csv = File.ReadAllLines(Path.Combine(_directory, "metrics.csv"));
        Assert.Equal(3, csv.Length);
        Assert.StartsWith("method,seed,step,transitions,seconds,mean_success", csv[0], StringComparison.Ordinal);
        Assert.StartsWith("pcgrad,3,60,240,", csv[2], StringComparison.Ordinal);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(_directory, "tensorboard"), "*", SearchOption.AllDirectories));
        Assert.Equal(Logged(history), Logged(RlTrainer.ReadHistory(_directory).History));
    }

    [Fact]
    public void AResumedRunContinuesBitForBitAsIfItHadNeverStopped()
    {
        // 45 steps: mid-evaluation-interval is impossible (checkpoints follow evaluations), but mid-episode (50 steps)
        // and mid-warm-up-to-training are covered: the interrupted run stops at step 30, inside the first episode.
        var straight = RlTrainer.Train(Small("pcgrad", 90), Run("straight"), resume: false);
        RlTrainer.Train(Small("pcgrad", 30), Run("resumed"), resume: false);
        var resumed = RlTrainer.Train(Small("pcgrad", 90), Run("resumed"), resume: true);
        Assert.Equal(Logged(straight), Logged(resumed));
        Assert.Equal(AgentBytes(Run("straight")), AgentBytes(Run("resumed")));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(Run("resumed"), "metrics.csv")).Length - 1);
    }

    [Fact]
    public void ResumingWithOtherSettingsOrBeyondTheEndIsRefused()
    {
        RlTrainer.Train(Small("mtsac", 30), _directory, resume: false);
        var other = Assert.Throws<ArgumentException>(() => RlTrainer.Train(Small("pcgrad", 60), _directory, resume: true));
        Assert.Contains("different run", other.Message);
        var shorter = Small("mtsac", 20) with { WarmupSteps = 20 };
        Assert.Contains("beyond the requested --steps 20", Assert.Throws<ArgumentException>(() => RlTrainer.Train(shorter, _directory, resume: true)).Message);
        // Another thread count is not another run.
        Assert.Equal([30, 60], RlTrainer.Train(Small("mtsac", 60) with { Threads = 1 }, _directory, resume: true).Select(r => r.Step));
    }

    [Fact]
    public void ACorruptCheckpointIsNamedAndTheRunFallsBackToThePreviousOne()
    {
        RlTrainer.Train(Small("mtsac", 60), _directory, resume: false);
        var path = Path.Combine(_directory, RlTrainer.CheckpointName);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        // The previous checkpoint (step 30) is intact: reading and resuming fall back to it.
        Assert.Equal([30], RlTrainer.ReadHistory(_directory).History.Select(r => r.Step));
        File.Delete(path + ".prev");
        var error = Assert.Throws<InvalidDataException>(() => RlTrainer.ReadHistory(_directory));
        Assert.Contains(path, error.Message);
        Assert.Throws<InvalidDataException>(() => RlTrainer.Train(Small("mtsac", 90), _directory, resume: true));
        Assert.Equal(bytes, File.ReadAllBytes(path));   // nothing overwritten
        Assert.Contains("No checkpoint", Assert.Throws<InvalidDataException>(() => RlTrainer.LoadAgent(Run("nothing-here"))).Message);
    }
}
