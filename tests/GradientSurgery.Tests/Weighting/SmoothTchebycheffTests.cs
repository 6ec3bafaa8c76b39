using GradientSurgery.Weighting;
using static GradientSurgery.Tests.Weighting.WeightingTestHelpers;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Weighting;

public sealed class SmoothTchebycheffTests
{
    [Fact]
    public void WorkedExample()
    {
        using var scope = NewDisposeScope();
        var stch = new SmoothTchebycheff(mu: 1.0);
        var losses = Leaves(1.0, 2.0);
        var objective = stch.Combine(losses);
        objective.backward();
        // λ = (½, ½), z* = 0: y = (0.5, 1); log(e^0.5 + e^1) = log(1.6487213 + 2.7182818) = 1.4740770.
        // Weights λ_i softmax_i(y) = ½·(0.3775407, 0.6224593) = (0.1887703, 0.3112297).
        Assert.Equal(1.4740769841801067, objective.item<double>(), 14);
        var expected = new[] { 0.1887703343990727, 0.31122966560092724 };
        Assert.Equal(expected, stch.LastWeights, new ToleranceComparer(1e-15));
        Assert.Equal(expected, Gradients(losses), new ToleranceComparer(1e-15));
    }

    [Fact]
    public void PreferenceAndIdealPointEnterAsLambdaTimesTheGap()
    {
        using var scope = NewDisposeScope();
        var stch = new SmoothTchebycheff(mu: 0.5, preference: [1.0, 3.0], idealPoint: [0.5, 1.0]);
        var losses = Leaves(2.0, 1.25);
        var objective = stch.Combine(losses);
        objective.backward();
        // y = (1·(2 − 0.5), 3·(1.25 − 1)) = (1.5, 0.75); 0.5·log(e^3 + e^1.5).
        var value = 0.5 * Math.Log(Math.Exp(3.0) + Math.Exp(1.5));
        Assert.Equal(value, objective.item<double>(), 14);
        var share = Math.Exp(3.0) / (Math.Exp(3.0) + Math.Exp(1.5));
        Assert.Equal(new[] { share, 3 * (1 - share) }, Gradients(losses), new ToleranceComparer(1e-14));
    }

    [Fact]
    public void SmallMuTendsToTheWeightedMaximum()
    {
        using var scope = NewDisposeScope();
        // y = (1/3, 2/3, 1): the Tchebycheff value is 1 and all the weight goes to task 3 (λ₃ = 1/3).
        var stch = new SmoothTchebycheff(mu: 1e-3);
        var objective = stch.Combine(Leaves(1.0, 2.0, 3.0)).item<double>();
        Assert.InRange(objective, 1.0, 1.0 + 1e-3 * Math.Log(3));
        Assert.Equal(new[] { 0.0, 0.0, 1.0 / 3.0 }, stch.LastWeights, new ToleranceComparer(1e-12));
    }

    [Fact]
    public void LargeMuTendsToTheMean()
    {
        using var scope = NewDisposeScope();
        const double mu = 1e6;
        var stch = new SmoothTchebycheff(mu);
        var objective = stch.Combine(Leaves(1.0, 2.0, 3.0)).item<double>();
        // g − μ log T → mean(y) = 2/3, and every weight → λ_i/T = 1/9.
        Assert.Equal(2.0 / 3.0, objective - mu * Math.Log(3), 1e-6);
        Assert.Equal(new[] { 1.0 / 9, 1.0 / 9, 1.0 / 9 }, stch.LastWeights, new ToleranceComparer(1e-6));
    }

    [Fact]
    public void StaysWithinTheSmoothingBoundsAndNeverOverflows()
    {
        var random = new Random(9);
        foreach (var mu in new[] { 1e-6, 1e-2, 1.0, 100.0 })
        {
            using var scope = NewDisposeScope();
            var values = Enumerable.Range(0, 8).Select(_ => random.NextDouble() * 1e3).ToArray();
            var stch = new SmoothTchebycheff(mu);
            var objective = stch.Combine(Leaves(values)).item<double>();
            var maximum = values.Max() / 8;
            Assert.InRange(objective, maximum - 1e-12 * maximum, maximum + mu * Math.Log(8) + 1e-12 * maximum);
            Assert.All(stch.LastWeights, w => Assert.True(double.IsFinite(w) && w >= 0));
            Assert.Equal(1.0 / 8, stch.LastWeights.Sum(), 12);
        }
    }

    [Fact]
    public void BadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SmoothTchebycheff(0.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SmoothTchebycheff(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SmoothTchebycheff(1.0, preference: [1.0, -1.0]));
        Assert.Throws<ArgumentException>(() => new SmoothTchebycheff(1.0, preference: [0.0, 0.0]));
        Assert.Throws<ArgumentException>(() => new SmoothTchebycheff(1.0, preference: []));
        Assert.Throws<ArgumentException>(() => new SmoothTchebycheff(1.0, preference: [1.0, 1.0], idealPoint: [0.0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SmoothTchebycheff(1.0, idealPoint: [double.NegativeInfinity]));

        using var scope = NewDisposeScope();
        var stch = new SmoothTchebycheff(1.0, preference: [0.5, 0.5]);
        Assert.Contains("set up for 2 tasks, but 3", Assert.Throws<ArgumentException>(() => stch.Combine(Leaves(1, 2, 3))).Message);
        Assert.Contains("task 0", Assert.Throws<ArithmeticException>(() => stch.Combine(Leaves(double.NaN, 2))).Message);
    }
}
