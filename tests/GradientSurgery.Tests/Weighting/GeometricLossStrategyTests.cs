using GradientSurgery.Weighting;
using static GradientSurgery.Tests.Weighting.WeightingTestHelpers;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Weighting;

public sealed class GeometricLossStrategyTests
{
    [Fact]
    public void WorkedExamples()
    {
        using var scope = NewDisposeScope();
        var gls = new GeometricLossStrategy();

        // (1·4)^(1/2) = 2; ∂/∂L_i = GM/(T L_i) = (2/2, 2/8) = (1, 0.25).
        var losses = Leaves(1.0, 4.0);
        var objective = gls.Combine(losses);
        objective.backward();
        Assert.Equal(2.0, objective.item<double>(), 14);
        Assert.Equal(new[] { 1.0, 0.25 }, Gradients(losses), new ToleranceComparer(1e-14));
        Assert.Equal(new[] { 1.0, 0.25 }, gls.LastWeights, new ToleranceComparer(1e-14));

        // (1·2·4)^(1/3) = 2; weights 2/(3·(1, 2, 4)) = (2/3, 1/3, 1/6).
        losses = Leaves(1.0, 2.0, 4.0);
        objective = gls.Combine(losses);
        objective.backward();
        Assert.Equal(2.0, objective.item<double>(), 14);
        Assert.Equal(new[] { 2.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0 }, Gradients(losses), new ToleranceComparer(1e-14));
    }

    [Fact]
    public void GradientEqualsTheAnalyticOneAndEachTaskIsWeightedByItsInverseLoss()
    {
        var random = new Random(4);
        for (var trial = 0; trial < 10; trial++)
        {
            using var scope = NewDisposeScope();
            var values = Enumerable.Range(0, 7).Select(_ => Math.Exp(random.NextDouble() * 10 - 5)).ToArray();
            var losses = Leaves(values);
            var gls = new GeometricLossStrategy();
            var objective = gls.Combine(losses);
            objective.backward();
            var geometricMean = Math.Exp(values.Select(v => Math.Log(v)).Average());
            Assert.Equal(geometricMean, objective.item<double>(), geometricMean * 1e-13);
            Assert.Equal(values.Select(v => geometricMean / (7 * v)), Gradients(losses), new ToleranceComparer(1e-10));
            // w_i L_i is the same for every task: rescaling one loss does not change its share.
            Assert.All(gls.LastWeights.Select((w, i) => w * values[i]), x => Assert.Equal(geometricMean / 7, x, 1e-12 * geometricMean));
        }
    }

    [Fact]
    public void ManySmallLossesDoNotUnderflow()
    {
        using var scope = NewDisposeScope();
        // Π of a hundred 1e-5 is 1e-500, below the float64 range; the geometric mean is 1e-5.
        var losses = Leaves([.. Enumerable.Repeat(1e-5, 100)]);
        var objective = new GeometricLossStrategy().Combine(losses);
        objective.backward();
        Assert.Equal(1e-5, objective.item<double>(), 1e-17);
        Assert.All(Gradients(losses), g => Assert.Equal(0.01, g, 1e-12));
    }

    [Fact]
    public void SingleTaskIsItsOwnLoss()
    {
        using var scope = NewDisposeScope();
        var gls = new GeometricLossStrategy();
        Assert.Equal(0.37, gls.Combine(Leaves(0.37)).item<double>(), 15);
        Assert.Equal(new[] { 1.0 }, gls.LastWeights, new ToleranceComparer(1e-15));
    }

    [Fact]
    public void BadInputs()
    {
        using var scope = NewDisposeScope();
        var gls = new GeometricLossStrategy();
        Assert.Empty(gls.LastWeights);
        Assert.Contains("task 1", Assert.Throws<ArgumentException>(() => gls.Combine(Leaves(1.0, 0.0))).Message);
        Assert.Contains("task 0", Assert.Throws<ArgumentException>(() => gls.Combine(Leaves(-1.0, 2.0))).Message);
        Assert.Contains("task 1", Assert.Throws<ArithmeticException>(() => gls.Combine(Leaves(1.0, double.NaN))).Message);
    }
}
