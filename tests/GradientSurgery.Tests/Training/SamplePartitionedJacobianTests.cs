using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Tests.Training;

/// <summary>
/// The one-pass Jacobian of a sample-partitioned batch against T separate backward passes (each task's mean loss
/// through autograd), on random networks and partitions that include an empty task and a one-sample task.
/// </summary>
public sealed class SamplePartitionedJacobianTests
{
    // A random MLP of 2–4 Linear layers with ReLU/Tanh between them, and a batch for it.
    private static Sequential RandomMlp(Random random, int inputs, int outputs, ScalarType dtype)
    {
        var layerCount = random.Next(2, 5);
        var modules = new List<(string, Module<Tensor, Tensor>)>();
        var width = inputs;
        for (var l = 0; l < layerCount; l++)
        {
            var next = l == layerCount - 1 ? outputs : random.Next(3, 12);
            modules.Add(($"linear{l}", Linear(width, next)));
            if (l < layerCount - 1)
            {
                modules.Add(($"act{l}", random.Next(2) == 0 ? ReLU() : Tanh()));
            }
            width = next;
        }
        var mlp = Sequential(modules.ToArray());
        mlp.to(dtype);
        return mlp;
    }

    // Task ids for n samples among t ≥ 3 tasks: task 0 is empty, task 1 has exactly one sample, the rest are random.
    private static long[] RandomPartition(Random random, int samples, int tasks)
    {
        var ids = new long[samples];
        ids[random.Next(samples)] = 1;
        for (var i = 0; i < samples; i++)
        {
            if (ids[i] != 1)
            {
                ids[i] = random.Next(2, tasks);
            }
        }
        return ids;
    }

    private static Tensor SampleLosses(Tensor output, Tensor target) => (output - target).pow(2).sum(1);

    // The reference: for each task, the mean of its own samples' losses, differentiated on its own.
    private static Tensor PerTaskPasses(Func<Tensor> sampleLosses, IReadOnlyList<Parameter> parameters, long[] ids, int tasks)
    {
        var rows = new List<Tensor>();
        for (var t = 0; t < tasks; t++)
        {
            var members = Enumerable.Range(0, ids.Length).Where(i => ids[i] == t).Select(i => (long)i).ToArray();
            if (members.Length == 0)
            {
                rows.Add(zeros(parameters.Sum(p => p.numel()), dtype: parameters[0].dtype));
                continue;
            }
            var loss = sampleLosses().index_select(0, tensor(members)).mean();
            var gradients = autograd.grad([loss], [.. parameters], allow_unused: true);
            rows.Add(cat(gradients.Select((g, k) => g.IsInvalid ? zeros(parameters[k].numel(), dtype: parameters[k].dtype) : g.reshape(-1)).ToArray()));
        }
        return stack(rows);
    }

    private static double MaxRelativeError(Tensor actual, Tensor expected) =>
        (actual - expected).abs().max().ToDouble() / Math.Max(expected.abs().max().ToDouble(), 1e-300);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void OnePassEqualsOneBackwardPerTaskInFloat64(int seed)
    {
        using var scope = NewDisposeScope();
        manual_seed(seed);
        var random = new Random(seed);
        var (samples, tasks, inputs, outputs) = (random.Next(8, 40), random.Next(3, 7), random.Next(2, 9), random.Next(1, 5));
        using var mlp = RandomMlp(random, inputs, outputs, ScalarType.Float64);
        var ids = RandomPartition(random, samples, tasks);
        var x = randn(samples, inputs, dtype: ScalarType.Float64);
        var target = randn(samples, outputs, dtype: ScalarType.Float64);
        using var partitioned = new SamplePartitionedJacobian(mlp);

        Tensor output;
        using (partitioned.Record())
        {
            output = mlp.forward(x);
        }
        var jacobian = partitioned.Compute(SampleLosses(output, target), tensor(ids), tasks);

        Assert.Equal(1, partitioned.LastBackwardPasses);
        Assert.Equal([tasks, partitioned.ParameterCount], jacobian.shape);
        var expected = PerTaskPasses(() => SampleLosses(mlp.forward(x), target), partitioned.Parameters, ids, tasks);
        Assert.True((jacobian - expected).abs().max().ToDouble() < 1e-10, $"max |Δ| = {(jacobian - expected).abs().max().ToDouble()}");
        Assert.Equal(0.0, jacobian[0].abs().max().ToDouble());
        Assert.True(jacobian[1].abs().max().ToDouble() > 0, "the one-sample task has a gradient");
    }

    [Fact]
    public void OnePassEqualsOneBackwardPerTaskInFloat32()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var random = new Random(11);
        using var mlp = RandomMlp(random, 6, 3, ScalarType.Float32);
        var ids = RandomPartition(random, 64, 5);
        var x = randn(64, 6);
        var target = randn(64, 3);
        using var partitioned = new SamplePartitionedJacobian(mlp);

        Tensor output;
        using (partitioned.Record())
        {
            output = mlp.forward(x);
        }
        var jacobian = partitioned.Compute(SampleLosses(output, target), tensor(ids), 5);

        Assert.Equal(ScalarType.Float32, jacobian.dtype);
        var expected = PerTaskPasses(() => SampleLosses(mlp.forward(x), target), partitioned.Parameters, ids, 5);
        Assert.True(MaxRelativeError(jacobian, expected) < 1e-5, $"relative error {MaxRelativeError(jacobian, expected)}");
    }

    [Fact]
    public void ParametersOutsideLinearLayersFallBackToOnePassPerTask()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        // LayerNorm treats samples independently but is not a Linear: its parameters take the per-task passes.
        using var net = Sequential(Linear(4, 6), LayerNorm(6), Tanh(), Linear(6, 2));
        net.to(ScalarType.Float64);
        long[] ids = [2, 2, 1, 3, 3, 3, 2, 3, 2, 3];
        var x = randn(ids.Length, 4, dtype: ScalarType.Float64);
        var target = randn(ids.Length, 2, dtype: ScalarType.Float64);
        using var partitioned = new SamplePartitionedJacobian(net);

        Tensor output;
        using (partitioned.Record())
        {
            output = net.forward(x);
        }
        var jacobian = partitioned.Compute(SampleLosses(output, target), tensor(ids), 4);

        Assert.Equal(1 + 3, partitioned.LastBackwardPasses);
        var expected = PerTaskPasses(() => SampleLosses(net.forward(x), target), partitioned.Parameters, ids, 4);
        Assert.True((jacobian - expected).abs().max().ToDouble() < 1e-10);
    }

    [Fact]
    public void ALayerCalledTwiceAndASubsetOfParametersFollowTheLayout()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var hidden = Linear(5, 5);
        // The same square layer twice in a row: its gradient is the sum over both calls.
        using var net = Sequential(("in", Linear(3, 5)), ("h1", hidden), ("a1", Tanh()), ("h2", hidden), ("a2", ReLU()), ("out", Linear(5, 2)));
        net.to(ScalarType.Float64);
        // Only the trunk's last two parameters and the output weight: the columns follow this order.
        var all = net.parameters().ToArray();
        Parameter[] chosen = [all[^1], all[2], all[3], all[^2]];
        long[] ids = [0, 1, 1, 0, 2, 1, 0, 0];
        var x = randn(ids.Length, 3, dtype: ScalarType.Float64);
        var target = randn(ids.Length, 2, dtype: ScalarType.Float64);
        using var partitioned = new SamplePartitionedJacobian(net, chosen);

        Tensor output;
        using (partitioned.Record())
        {
            output = net.forward(x);
        }
        var jacobian = partitioned.Compute(SampleLosses(output, target), tensor(ids), 3);

        Assert.Equal(1, partitioned.LastBackwardPasses);
        Assert.Equal(2 + 25 + 5 + 10, partitioned.ParameterCount);
        var expected = PerTaskPasses(() => SampleLosses(net.forward(x), target), chosen, ids, 3);
        Assert.True((jacobian - expected).abs().max().ToDouble() < 1e-10);
    }

    [Fact]
    public void ABatchMixingTwoDatasetsFeedsAnAggregator()
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        // One shared MLP; samples from dataset 0 regress onto one target, those of dataset 1 onto another.
        using var mlp = Sequential(Linear(4, 16), ReLU(), Linear(16, 16), Tanh(), Linear(16, 1));
        mlp.to(ScalarType.Float64);
        var x = randn(30, 4, dtype: ScalarType.Float64);
        var ids = tensor(Enumerable.Range(0, 30).Select(i => (long)(i % 3 == 0 ? 1 : 0)).ToArray());
        var targetA = x.narrow(1, 0, 1) * 2;
        var targetB = -x.narrow(1, 1, 1).sin();
        Tensor SampleLossesMixed(Tensor output) =>
            where(ids.eq(0).unsqueeze(1), (output - targetA).pow(2), (output - targetB).abs()).squeeze(1);
        using var partitioned = new SamplePartitionedJacobian(mlp);

        Tensor output;
        using (partitioned.Record())
        {
            output = mlp.forward(x);
        }
        var jacobian = partitioned.Compute(SampleLossesMixed(output), ids, 2);

        var expected = PerTaskPasses(() => SampleLossesMixed(mlp.forward(x)), partitioned.Parameters, ids.data<long>().ToArray(), 2);
        Assert.True((jacobian - expected).abs().max().ToDouble() < 1e-10);
        var update = new PCGrad(seed: 0).Aggregate(jacobian);
        Assert.Equal([partitioned.ParameterCount], update.shape);
    }

    [Fact]
    public void BadInputsNameTheCulprit()
    {
        using var scope = NewDisposeScope();
        using var mlp = Sequential(Linear(3, 4), Tanh(), Linear(4, 2));
        mlp.to(ScalarType.Float64);
        using var partitioned = new SamplePartitionedJacobian(mlp);
        var x = randn(5, 3, dtype: ScalarType.Float64);
        Tensor Losses()
        {
            using (partitioned.Record())
            {
                return mlp.forward(x).pow(2).sum(1);
            }
        }
        var ids = tensor(new long[] { 0, 1, 1, 0, 1 });

        var outOfRange = Assert.Throws<ArgumentException>(() => partitioned.Compute(Losses(), tensor(new long[] { 0, 1, 2, 0, 1 }), 2));
        Assert.Equal("taskIds", outOfRange.ParamName);
        Assert.Contains("Sample 2 has task id 2", outOfRange.Message);
        var negative = Assert.Throws<ArgumentException>(() => partitioned.Compute(Losses(), tensor(new long[] { 0, -1, 1, 0, 1 }), 2));
        Assert.Contains("Sample 1 has task id -1", negative.Message);

        var wrongLength = Assert.Throws<ArgumentException>(() => partitioned.Compute(Losses(), tensor(new long[] { 0, 1, 1 }), 2));
        Assert.Equal("taskIds", wrongLength.ParamName);
        Assert.Contains("[5]", wrongLength.Message);
        var floatIds = Assert.Throws<ArgumentException>(() => partitioned.Compute(Losses(), ids.to(ScalarType.Float32), 2));
        Assert.Contains("int64 or int32", floatIds.Message);

        var reduced = Assert.Throws<ArgumentException>(() => partitioned.Compute(Losses().mean(), ids, 2));
        Assert.Equal("sampleLosses", reduced.ParamName);
        Assert.Contains("1-D", reduced.Message);
        var matrix = Assert.Throws<ArgumentException>(() => partitioned.Compute(Losses().unsqueeze(1), ids, 2));
        Assert.Contains("[5, 1]", matrix.Message);

        var withNaN = Losses() * tensor(new[] { 1.0, 1.0, 1.0, double.NaN, 1.0 }, dtype: ScalarType.Float64);
        var nan = Assert.Throws<ArgumentException>(() => partitioned.Compute(withNaN, ids, 2));
        Assert.Equal("sampleLosses", nan.ParamName);
        Assert.Contains("sample 3 (task 0) is NaN", nan.Message);

        var detached = Assert.Throws<ArgumentException>(() => partitioned.Compute(Losses().detach(), ids, 2));
        Assert.Contains("do not require grad", detached.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => partitioned.Compute(Losses(), ids, 0));

        // A valid call consumes the recording; a second one without a new Record() is refused.
        var losses = Losses();
        partitioned.Compute(losses, ids, 2);
        var notRecorded = Assert.Throws<InvalidOperationException>(() => partitioned.Compute(mlp.forward(x).pow(2).sum(1), ids, 2));
        Assert.Contains("Record()", notRecorded.Message);
    }
}
