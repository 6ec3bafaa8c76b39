using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

/// <summary>What the base class does for every Gramian weighting: the checked Gramian, the context, Aggregate and the weight checks.</summary>
public sealed class GramianWeightingTests
{
    /// <summary>Records what it was given and returns whatever it is told to.</summary>
    private sealed class Probe(Func<GramianContext, double[]> weights) : GramianWeighting
    {
        public GramianContext? Seen { get; private set; }

        protected override double[] ComputeWeights(GramianContext context)
        {
            Seen = context;
            return weights(context);
        }
    }

    [Fact]
    public void TheMethodSeesTheCheckedSymmetrisedGramianAndNoLossesFromAnArray()
    {
        var probe = new Probe(c => [1.0, 1.0]);
        probe.Weights(new[,] { { 4.0, 1.0 }, { 1.0 + 1e-12, 1.0 } });
        Assert.Equal(probe.Seen!.Gramian[0, 1], probe.Seen.Gramian[1, 0]);
        Assert.Null(probe.Seen.Losses);
        Assert.Equal(GradientScope.SharedParameters, probe.Seen.Scope);
        Assert.Contains("not symmetric", Assert.Throws<ArgumentException>(() => probe.Weights(new[,] { { 4.0, 1.0 }, { -1.0, 1.0 } })).Message);
    }

    [Fact]
    public void WrongOrNonFiniteWeightsAndAMismatchedLossCountAreRefused()
    {
        var gramian = CheckedGramian.From(new[,] { { 1.0, 0.0 }, { 0.0, 1.0 } });
        Assert.Contains("returned 3 weights for 2 tasks",
            Assert.Throws<InvalidOperationException>(() => new Probe(_ => [1, 2, 3]).Weights(new GramianContext(gramian))).Message);
        Assert.Contains("weight NaN for task 1",
            Assert.Throws<InvalidOperationException>(() => new Probe(_ => [1, double.NaN]).Weights(new GramianContext(gramian))).Message);
        Assert.Contains("Expected 2 losses",
            Assert.Throws<ArgumentException>(() => new Probe(_ => [1, 1]).Weights(new GramianContext(gramian, [1.0]))).Message);
    }

    [Fact]
    public void AggregateIsTheWeightedSumOfTheRows()
    {
        using var scope = NewDisposeScope();
        var jacobian = randn(3, 7, dtype: ScalarType.Float64, generator: new Generator(11));
        var probe = new Probe(c => [.. Enumerable.Range(0, c.Gramian.TaskCount).Select(i => 1.0 / c.Gramian[i, i])]);
        var update = probe.Aggregate(jacobian);
        var norms = jacobian.pow(2).sum(dim: 1);
        var expected = (jacobian / norms.unsqueeze(1)).sum(dim: 0);
        Assert.True(update.allclose(expected, rtol: 1e-12, atol: 1e-14));
    }

    [Fact]
    public void TheMultiTaskBackwardPassesTheLossesAndTheScope()
    {
        using var model = new Training.TinyMultiTaskModel(tasks: 3, seed: 8);
        var probe = new Probe(c => [1.0, 1.0, 1.0]);
        using var scope = NewDisposeScope();
        var losses = model.Losses();
        var report = new MultiTaskBackward(probe, model.Shared, model.HeadParameters).Backward(losses);
        Assert.Equal(report.Losses, probe.Seen!.Losses!);
        Assert.Equal(GradientScope.SharedParameters, probe.Seen.Scope);
    }
}
