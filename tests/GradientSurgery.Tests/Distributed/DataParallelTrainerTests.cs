using System.Diagnostics;
using System.Globalization;
using GradientSurgery.Distributed.TestHost;
using GradientSurgery.Experiments.Supervised;
using Xunit.Abstractions;

namespace GradientSurgery.Tests.Distributed;

/// <summary>
/// <see cref="MultiTaskTrainer{TModel}"/> on 2 ranks (the test host's <c>trainer</c> scenario: a float64 MultiLeNet with
/// dropout on random data, 56 examples in global batches of 16) against one process, and its faults.
/// </summary>
public sealed class DataParallelTrainerTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-dp-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [MpiFact]
    public void Two_ranks_train_to_the_weights_and_metrics_of_one_process()
    {
        var one = Run(1, "one", "2");
        var two = Run(2, "two", "2");
        var shorter = Run(1, "shorter", "1");
        var difference = MaxRelativeDifference(TrainerScenario.Weights(two), TrainerScenario.Weights(one));
        var moved = MaxRelativeDifference(TrainerScenario.Weights(shorter), TrainerScenario.Weights(one));
        log.WriteLine($"2 ranks vs 1 process: max relative difference {difference:E2} (one epoch less: {moved:E2})");
        // The shard Jacobians' mean adds per-sample terms in another order than one backward pass; the dropout masks
        // are the same (drawn for the global batch).
        Assert.True(difference <= 1e-12, $"max relative difference {difference:E2}");
        Assert.True(moved > 1e-6, $"an epoch more moved the weights by only {moved:E2}");
        // Every metric but the epoch's seconds: the global batch's losses and accuracies, the test set's (each rank
        // evaluates half), the conflicts of the global Jacobian.
        AssertSameMetrics(one, two, 1e-12);
    }

    [MpiFact]
    public void A_rank_killed_mid_run_leaves_an_intact_checkpoint_and_resume_reaches_the_uninterrupted_end()
    {
        var straight = Run(2, "straight", "4");
        var run = Path.Combine(_directory, "killed");
        using (var job = MpiRun.Background(2, "trainer", "pcgrad", run, "4", "--delay-ms", "250"))
        {
            var checkpoint = Path.Combine(run, "checkpoint.bin");
            var watch = Stopwatch.StartNew();
            while (!File.Exists(checkpoint) && !job.HasExited && watch.Elapsed < MpiRun.DefaultTimeout)
            {
                Thread.Sleep(50);
            }
            Assert.True(File.Exists(checkpoint), "no checkpoint after the first epoch");
            Assert.False(job.HasExited, "the run ended before the kill");
            var victim = int.Parse(File.ReadAllText(Path.Combine(run, "pid.rank1")), CultureInfo.InvariantCulture);
            var killed = Stopwatch.StartNew();
            Process.GetProcessById(victim).Kill();
            Assert.True(job.WaitForExit(TimeSpan.FromSeconds(30)), "mpirun did not end within 30 s of the kill");
            log.WriteLine($"mpirun ended {killed.Elapsed.TotalSeconds:F1} s after the kill with code {job.ExitCode}");
            Assert.NotEqual(0, job.ExitCode);
        }
        Assert.False(File.Exists(MultiTaskTrainer<GradientSurgery.Models.MultiLeNet>.ModelPath(run)), "the killed run finished");
        // Intact: it reads back (checksums), and the resumed run continues from it to the same end.
        Assert.NotEmpty(CheckpointFile.Read(Path.Combine(run, "checkpoint.bin")));
        var (code, output, _) = MpiRun.Launch(2, null, "trainer", "pcgrad", run, "4", "--resume");
        Assert.True(code == 0, output);
        Assert.Equal(TrainerScenario.Weights(straight), TrainerScenario.Weights(run));
    }

    [MpiFact]
    public void Ranks_with_different_seeds_are_refused_at_start_up()
    {
        var (code, output, elapsed) = MpiRun.Launch(2, null, "trainer", "pcgrad", Path.Combine(_directory, "mismatch"), "1", "--rank1-seed", "12");
        Assert.Equal(2, code);
        Assert.Contains("The training settings and data differ between ranks: rank 1 has another fingerprint than rank 0 (seed, method, batch size, epochs or the data differ).", output);
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"took {elapsed.TotalSeconds:F0} s");
    }

    [MpiFact]
    public void Batches_that_the_ranks_cannot_share_evenly_and_loss_weightings_are_refused()
    {
        var (uneven, unevenOutput, _) = MpiRun.Launch(3, null, "trainer", "pcgrad", Path.Combine(_directory, "uneven"), "1");
        Assert.Equal(2, uneven);
        Assert.Contains("3 ranks cannot share the global batches evenly: --batch-size 16 and the last batch of each epoch (8 of 56 examples) must both be multiples of 3.", unevenOutput);
        var (weighting, weightingOutput, _) = MpiRun.Launch(2, null, "trainer", "dwa", Path.Combine(_directory, "dwa"), "1");
        Assert.Equal(2, weighting);
        Assert.Contains("'dwa' is a loss weighting; loss weightings are not distributed yet", weightingOutput);
    }

    private string Run(int ranks, string name, string epochs)
    {
        var directory = Path.Combine(_directory, name);
        var (code, output, elapsed) = ranks == 1
            ? MpiRun.Direct("trainer", "pcgrad", directory, epochs)
            : MpiRun.Launch(ranks, null, "trainer", "pcgrad", directory, epochs);
        log.WriteLine($"{ranks} rank(s), {epochs} epochs: {elapsed.TotalSeconds:F1} s");
        Assert.True(code == 0, output);
        return directory;
    }

    /// <summary>Every value of two runs' metrics.csv but the epoch's seconds (the last column) agrees within <paramref name="tolerance"/>, relative above 1.</summary>
    internal static void AssertSameMetrics(string expectedRun, string actualRun, double tolerance)
    {
        var expected = Metrics(expectedRun);
        var actual = Metrics(actualRun);
        Assert.Equal(expected.Length, actual.Length);
        for (var k = 0; k < expected.Length; k++)
        {
            Assert.True(Math.Abs(expected[k] - actual[k]) <= tolerance * Math.Max(1, Math.Abs(expected[k])), $"metric {k}: {expected[k]} vs {actual[k]}");
        }
    }

    private static double[] Metrics(string run) =>
        [.. File.ReadAllLines(Path.Combine(run, "metrics.csv")).Skip(1)
            .SelectMany(line => line.Split(',')[..^1].Select(v => double.Parse(v, CultureInfo.InvariantCulture)))];

    private static double MaxRelativeDifference(double[] actual, double[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        return actual.Zip(expected, (a, e) => Math.Abs(a - e) / Math.Max(1e-3, Math.Abs(e))).Max();
    }
}
