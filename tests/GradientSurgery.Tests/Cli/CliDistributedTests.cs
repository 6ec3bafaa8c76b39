using GradientSurgery.Cli;
using GradientSurgery.Tests.Distributed;

namespace GradientSurgery.Tests.Cli;

/// <summary><c>gsurg train --ranks 2</c>: starts mpirun on this machine and ends where one process ends.</summary>
public sealed class CliDistributedTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-cli-dp-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [MpiFact]
    public void TrainWithTwoRanksMatchesOneProcess()
    {
        var data = Path.Combine(_directory, "data");
        GradientSurgery.Tests.Data.IdxTestFiles.WriteSource(data, "mnist", trainCount: 48, testCount: 20, seed: 1);
        string[] Train(string run, params string[] extra) =>
            ["train", "--benchmark", "multimnist", "--method", "pcgrad", "--data", data, "--epochs", "2", "--batch-size", "16",
             "--cache", Path.Combine(_directory, "cache"), "--out", Path.Combine(_directory, run), .. extra];

        var (one, _, oneError) = GsurgConsole.Run(Train("one"));
        Assert.True(one == 0, oneError);
        var (two, _, twoError) = GsurgConsole.Run(Train("two", "--ranks", "2"));
        Assert.True(two == 0, twoError);
        foreach (var file in new[] { "run.json", "model.bin", "checkpoint.bin", "metrics.csv" })
        {
            Assert.True(File.Exists(Path.Combine(_directory, "two", file)), file);
        }
        // float32: the same up to the rounding of the sums over the shards (the accuracies exactly).
        DataParallelTrainerTests.AssertSameMetrics(Path.Combine(_directory, "one"), Path.Combine(_directory, "two"), 1e-5);

        // The ranks' refusal goes to the console through mpirun; the launcher returns mpirun's code.
        var (odd, _, _) = GsurgConsole.Run(Train("odd", "--ranks", "3"));
        Assert.Equal(GsurgApp.RunFailure, odd);
    }
}
