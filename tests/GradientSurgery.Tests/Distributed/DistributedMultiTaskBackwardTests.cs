using System.Runtime.InteropServices;
using GradientSurgery.Aggregation;
using GradientSurgery.Distributed;
using GradientSurgery.Distributed.TestHost;
using GradientSurgery.Training;
using TorchSharp.Modules;
using Xunit.Abstractions;

namespace GradientSurgery.Tests.Distributed;

/// <summary>
/// The distributed multi-task backward against the core's on one process: the test host trains
/// <see cref="TrainingScenario"/> on 2 ranks (each its half of every global batch) or as a world of one, and the test
/// trains the same steps in this process with <see cref="MultiTaskBackward"/> on the whole batches.
/// </summary>
public sealed class DistributedMultiTaskBackwardTests(ITestOutputHelper log)
{
    /// <summary>
    /// Two ranks are not bit-identical to one process: the global Jacobian is the mean of the shard Jacobians, which
    /// adds the per-sample terms in another order than one backward pass over the whole batch (and the Gramian is a
    /// sum of the column blocks' partial Gramians); the rounding differences stay near float64's 1e-16 per step.
    /// </summary>
    private const double TwoRankTolerance = 1e-12;

    [MpiTheory]
    [InlineData("pcgrad", JacobianReduction.ReduceScatter)]
    [InlineData("pcgrad", JacobianReduction.AllReduce)]
    [InlineData("mgda", JacobianReduction.ReduceScatter)]
    [InlineData("mgda", JacobianReduction.AllReduce)]
    // Loss-aware: the weights read the losses, which must be the global batch's means.
    [InlineData("mgda:normalization=loss", JacobianReduction.ReduceScatter)]
    [InlineData("graddrop", JacobianReduction.ReduceScatter)]
    [InlineData("graddrop", JacobianReduction.AllReduce)]
    public void Two_ranks_train_to_the_parameters_of_one_process_on_the_whole_batches(string method, JacobianReduction reduction)
    {
        var distributed = TrainOnRanks(2, method, reduction);
        var difference = MaxRelativeDifference(distributed, TrainingScenario.TrainInOneProcess(method));
        // The tolerance means something only if training on one shard alone ends far away.
        var shardOnly = MaxRelativeDifference(TrainingScenario.Train(method, 0, 2, Core), TrainingScenario.TrainInOneProcess(method));
        log.WriteLine($"{method} {reduction}: max relative difference {difference:E2} over {distributed.Length} parameters after {TrainingScenario.Steps} steps (rank 0's shard alone: {shardOnly:E2})");
        Assert.True(difference <= TwoRankTolerance, $"max relative difference {difference:E2}");
        Assert.True(shardOnly > 1e-3, $"training on half of every batch ends only {shardOnly:E2} away");
    }

    [MpiTheory]
    [InlineData("pcgrad", JacobianReduction.ReduceScatter)]
    [InlineData("graddrop", JacobianReduction.AllReduce)]
    public void Two_float32_ranks_stay_within_float32_rounding_of_one_process(string method, JacobianReduction reduction)
    {
        var distributed = TrainOnRanks(2, method, reduction, "float32");
        var difference = MaxRelativeDifference(distributed, TrainingScenario.TrainInOneProcess(method, TorchSharp.torch.ScalarType.Float32));
        log.WriteLine($"{method} {reduction}, float32: max relative difference {difference:E2}");
        // float32's 6e-8 per operation, over 5 steps of a few dozen operations per parameter.
        Assert.True(difference <= 1e-5, $"max relative difference {difference:E2}");
    }

    [MpiFact]
    public void Shards_of_different_sizes_are_refused_on_every_rank()
    {
        var (code, output, elapsed) = MpiRun.Launch(2, null, "unequal");
        log.WriteLine($"{elapsed.TotalSeconds:F1} s\n{output}");
        Assert.True(code == 0, $"mpirun exited with {code}:\n{output}");
        Assert.Contains("rank 0/2 unequal ok: The ranks' shards have 8 to 9 samples", output);
        Assert.Contains("rank 1/2 unequal ok: The ranks' shards have 8 to 9 samples", output);
    }

    [MpiFact]
    public void Different_aggregators_on_the_ranks_fail_at_construction_on_every_rank()
    {
        var (code, output, elapsed) = MpiRun.Launch(2, null, "methodmismatch");
        log.WriteLine($"{elapsed.TotalSeconds:F1} s\n{output}");
        Assert.True(code == 0, $"mpirun exited with {code}:\n{output}");
        Assert.Contains("rank 0/2 methodmismatch ok: The distributed backward settings differ between ranks: rank 1", output);
        Assert.Contains("rank 1/2 methodmismatch ok: The distributed backward settings differ between ranks: rank 1", output);
    }

    [MpiTheory]
    [InlineData("pcgrad", JacobianReduction.ReduceScatter)]
    [InlineData("pcgrad", JacobianReduction.AllReduce)]
    [InlineData("graddrop", JacobianReduction.ReduceScatter)]
    public void A_world_of_one_trains_exactly_as_the_core(string method, JacobianReduction reduction)
    {
        var distributed = TrainOnRanks(1, method, reduction);
        var difference = MaxRelativeDifference(distributed, TrainingScenario.TrainInOneProcess(method));
        log.WriteLine($"{method} {reduction}, one rank: max relative difference {difference:E2}");
        Assert.True(difference <= 1e-14, $"max relative difference {difference:E2}");
    }

    [MpiTheory]
    [InlineData("nan", JacobianReduction.ReduceScatter, "The loss of task 1 is NaN")]
    [InlineData("nan", JacobianReduction.AllReduce, "The loss of task 1 is NaN")]
    [InlineData("nangradient", JacobianReduction.ReduceScatter, "The gradient of task 2 with respect to the shared parameters contains NaN")]
    [InlineData("nangradient", JacobianReduction.AllReduce, "The gradient of task 2 with respect to the shared parameters contains NaN")]
    public void A_NaN_on_one_rank_is_reported_on_every_rank_naming_the_task(string scenario, JacobianReduction reduction, string message)
    {
        var (code, output, elapsed) = MpiRun.Launch(2, null, scenario, reduction.ToString());
        log.WriteLine($"{elapsed.TotalSeconds:F1} s\n{output}");
        Assert.True(code == 0, $"mpirun exited with {code}:\n{output}");
        Assert.Contains($"rank 0/2 {scenario} ok: {reduction}: {message}", output);
        Assert.Contains($"rank 1/2 {scenario} ok: {reduction}: {message}", output);
    }

    private static (ShardBackward, IDisposable) Core(IAggregator aggregator, Parameter[] shared, Parameter[] heads)
    {
        var backward = new MultiTaskBackward(aggregator, shared, heads);
        return ((losses, _) => backward.Backward(losses), backward);
    }

    private double[] TrainOnRanks(int ranks, string method, JacobianReduction reduction, params string[] options)
    {
        var path = Path.Combine(Path.GetTempPath(), $"gsurg-dist-{Guid.NewGuid():N}.bin");
        try
        {
            string[] arguments = ["train", method, reduction.ToString(), path, .. options];
            var (code, output, elapsed) = ranks == 1 ? MpiRun.Direct(arguments) : MpiRun.Launch(ranks, null, arguments);
            log.WriteLine($"{elapsed.TotalSeconds:F1} s\n{output}");
            Assert.True(code == 0, $"the test host exited with {code}:\n{output}");
            return MemoryMarshal.Cast<byte, double>(File.ReadAllBytes(path)).ToArray();
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>max_i |a_i − b_i| / max_i |b_i|: relative to the parameters' scale, so that a parameter near zero does not inflate it.</summary>
    private static double MaxRelativeDifference(double[] actual, double[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = expected.Max(Math.Abs);
        return actual.Zip(expected, (a, b) => Math.Abs(a - b)).Max() / scale;
    }
}
