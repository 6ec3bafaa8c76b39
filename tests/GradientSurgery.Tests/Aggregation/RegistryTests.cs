using GradientSurgery.Aggregation;
using GradientSurgery.Tests.Training;
using GradientSurgery.Training;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

/// <summary>Every registered method works end to end: by name, on a Jacobian, and inside the multi-task backward.</summary>
public sealed class RegistryTests
{
    public static IEnumerable<object[]> Names => MethodCatalog.NamesOf(MethodKind.Aggregator).Select(n => new object[] { n });

    [Fact]
    public void NamesAreUniqueAndLowerCase()
    {
        Assert.Equal(MethodCatalog.NamesOf(MethodKind.Aggregator).Count(), MethodCatalog.NamesOf(MethodKind.Aggregator).Distinct().Count());
        Assert.All(MethodCatalog.NamesOf(MethodKind.Aggregator), n => Assert.Equal(n.ToLowerInvariant(), n));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void AggregatesARandomJacobianIntoAFiniteUpdate(string name)
    {
        using var scope = NewDisposeScope();
        var jacobian = randn(4, 30, dtype: ScalarType.Float64, generator: new Generator(3));
        var update = MethodCatalog.CreateAggregator(name, seed: 1).Aggregate(jacobian);
        Assert.Equal(new long[] { 30 }, update.shape);
        Assert.Equal(ScalarType.Float64, update.dtype);
        Assert.True(isfinite(update).all().item<bool>());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void TrainsTheTinyModelThroughBothPaths(string name)
    {
        using var model = new TinyMultiTaskModel(tasks: 3, seed: 4);
        var optimizer = new AggregationStep(optim.Adam(model.All, 0.01), MethodCatalog.CreateAggregator(name, seed: 2), model.Shared);
        double[] first = [], last = [];
        for (var step = 0; step < 60; step++)
        {
            using var scope = NewDisposeScope();
            var features = model.Features();
            var report = step % 2 == 0 ? optimizer.Step(model.Losses(features), features) : optimizer.Step(model.Losses());
            Assert.All(report.Losses, l => Assert.True(double.IsFinite(l)));
            if (step == 0)
            {
                first = report.Losses;
            }
            last = report.Losses;
        }
        Assert.True(last.Sum() < first.Sum(), $"{name}: total loss {first.Sum()} → {last.Sum()}");
    }

    [Fact]
    public void ArgumentsReachTheMethod()
    {
        Assert.Equal(Reduction.Mean, Assert.IsType<PCGrad>(MethodCatalog.CreateAggregator("pcgrad:reduction=mean", 0)).Reduction);
        Assert.Equal(MGDA.GradientNormalization.L2, Assert.IsType<MGDA>(MethodCatalog.CreateAggregator("mgda:normalization=l2", 0)).Normalization);
        Assert.Contains("'c'", Assert.Throws<ArgumentException>(() => MethodCatalog.CreateAggregator("pcgrad:c=1", 0)).Message);
        Assert.Contains("key=value", Assert.Throws<ArgumentException>(() => MethodCatalog.CreateAggregator("pcgrad:reduction", 0)).Message);
    }

    [Fact]
    public void MgdaLossNormalisationReceivesTheLosses()
    {
        using var model = new TinyMultiTaskModel(tasks: 2, seed: 5);
        using var scope = NewDisposeScope();
        var shared = model.Shared.ToArray();
        var losses = model.Losses();
        var jacobian = stack(losses.Select(l => cat(autograd.grad([l], shared, retain_graph: true).Select(g => g.reshape(-1)).ToArray())).ToArray());
        var mgda = new MGDA(MGDA.GradientNormalization.Loss);
        var expected = mgda.Weights(Jacobian.Gramian(jacobian), losses.Select(l => l.item<double>()).ToArray());

        var report = new MultiTaskBackward(mgda, model.Shared, model.HeadParameters).Backward(losses);

        Assert.Equal(expected, report.Weights!, (a, b) => Math.Abs(a - b) <= 1e-9);
    }

    [Fact]
    public void MgdaUbUsesTheFeatureGramian()
    {
        using var model = new TinyMultiTaskModel(tasks: 3, seed: 7);
        using var scope = NewDisposeScope();
        var features = model.Features();
        var losses = model.Losses(features);
        var rows = losses.Select(l => autograd.grad([l], [features], retain_graph: true)[0].reshape(-1)).ToArray();
        var expected = MGDA.MinNormWeights(Jacobian.Gramian(stack(rows)));

        var report = new MultiTaskBackward(new MGDAUB(), model.Shared, model.HeadParameters).Backward(losses, features);

        Assert.Equal(GradientScope.SharedFeatures, report.ConflictScope);
        Assert.Equal(expected, report.Weights!, (a, b) => Math.Abs(a - b) <= 1e-9);
        Assert.Equal(1.0, report.Weights!.Sum(), 12);
    }
}
