using GradientSurgery.Training;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Tests.Training;

/// <summary>
/// The one-pass backward of a sample-partitioned batch writes what <see cref="MultiTaskBackward"/> writes from the
/// same task losses (each task's mean over its samples, T backward passes), for every kind of aggregator.
/// </summary>
public sealed class SamplePartitionedBackwardTests
{
    private const int Tasks = 4;

    private static (TorchSharp.Modules.Sequential Network, Tensor Inputs, Tensor Targets, long[] Ids) Problem(int seed)
    {
        manual_seed(seed);
        var network = Sequential(Linear(5, 8), Tanh(), Linear(8, 3));
        network.to(ScalarType.Float64);
        // Task 0 holds one sample, task 3 none; the others a few each, interleaved.
        long[] ids = [1, 2, 0, 1, 2, 2, 1, 1, 2];
        return (network, randn(ids.Length, 5, dtype: ScalarType.Float64), randn(ids.Length, 3, dtype: ScalarType.Float64), ids);
    }

    private static Tensor SampleLosses(Module<Tensor, Tensor> network, Tensor inputs, Tensor targets) =>
        (network.call(inputs) - targets).square().sum(1);

    private static double[] Gradients(IEnumerable<TorchSharp.Modules.Parameter> parameters) =>
        [.. parameters.SelectMany(p => p.grad!.reshape(-1).data<double>().ToArray())];

    [Theory]
    [InlineData("pcgrad")]
    [InlineData("mean")]
    [InlineData("mgda")]
    [InlineData("upgrad")]
    [InlineData("dbmtl")]
    [InlineData("cagrad")]
    public void EqualsTheMultiTaskBackwardOfTheTaskMeans(string method)
    {
        var (network, inputs, targets, ids) = Problem(3);
        var taskIds = tensor(ids);

        using (var reference = new MultiTaskBackward(MethodCatalog.CreateAggregator(method, seed: 7), network.parameters(), []))
        {
            var perSample = SampleLosses(network, inputs, targets);
            // The empty task contributes a constant loss (zero gradient, and 1 so that DB-MTL's log is defined), as the one-pass route gives it a zero row.
            var losses = Enumerable.Range(0, Tasks).Select(t =>
            {
                var members = Enumerable.Range(0, ids.Length).Where(i => ids[i] == t).Select(i => (long)i).ToArray();
                return members.Length == 0 ? (perSample.sum() * 0) + 1 : perSample.index_select(0, tensor(members)).mean();
            }).ToArray();
            reference.Backward(losses);
        }
        var expected = Gradients(network.parameters());
        network.zero_grad();

        using var backward = new SamplePartitionedBackward(MethodCatalog.CreateAggregator(method, seed: 7), network, network.parameters());
        Tensor sampleLosses;
        using (backward.Record())
        {
            sampleLosses = SampleLosses(network, inputs, targets);
        }
        var report = backward.Backward(sampleLosses, taskIds, Tasks);
        var actual = Gradients(network.parameters());

        Assert.Equal(1, backward.LastBackwardPasses);
        Assert.Equal(expected.Length, actual.Length);
        for (var k = 0; k < expected.Length; k++)
        {
            Assert.True(Math.Abs(actual[k] - expected[k]) <= 1e-9 * (1 + Math.Abs(expected[k])), $"{method}: column {k}: {actual[k]} vs {expected[k]}");
        }
        Assert.Equal(0, report.Losses[3]);
        Assert.NotNull(report.Conflicts);
    }

    [Fact]
    public void ANonFiniteSampleLossIsRefusedNamingSampleAndTaskAndNothingIsWritten()
    {
        var (network, inputs, targets, ids) = Problem(4);
        using var backward = new SamplePartitionedBackward(new GradientSurgery.Aggregation.PCGrad(seed: 1), network, network.parameters());
        Tensor sampleLosses;
        using (backward.Record())
        {
            sampleLosses = SampleLosses(network, inputs, targets);
        }
        var poisoned = sampleLosses * tensor(ids.Select((_, n) => n == 4 ? double.NaN : 1.0).ToArray());
        var failure = Assert.Throws<ArithmeticException>(() => backward.Backward(poisoned, tensor(ids), Tasks));
        Assert.Contains("sample 4 (task 2)", failure.Message);
        Assert.All(network.parameters(), p => Assert.True(p.grad is null || p.grad.IsInvalid || p.grad.abs().sum().ToDouble() == 0));
    }

    [Fact]
    public void ATaskIdOutsideTheTasksIsRefused()
    {
        var (network, inputs, targets, ids) = Problem(5);
        using var backward = new SamplePartitionedBackward(new GradientSurgery.Aggregation.PCGrad(seed: 1), network, network.parameters());
        Tensor sampleLosses;
        using (backward.Record())
        {
            sampleLosses = SampleLosses(network, inputs, targets);
        }
        var failure = Assert.Throws<ArgumentException>(() => backward.Backward(sampleLosses, tensor(ids), 2));
        Assert.Contains("task id 2", failure.Message);
    }
}
