using GradientSurgery.Weighting;
using TorchSharp;
using static GradientSurgery.Tests.Weighting.WeightingTestHelpers;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Weighting;

public sealed class UncertaintyWeightingTests
{
    private static void SetLogVariances(UncertaintyWeighting weighting, params double[] values)
    {
        using (no_grad())
        {
            weighting.LogVariances.copy_(tensor(values, dtype: ScalarType.Float64));
        }
    }

    [Fact]
    public void RegressionWorkedExample()
    {
        using var scope = NewDisposeScope();
        var weighting = new UncertaintyWeighting(2, dtype: ScalarType.Float64);
        SetLogVariances(weighting, 0.0, Math.Log(2.0));
        var losses = Leaves(2.0, 3.0);

        var objective = weighting.Combine(losses);
        objective.backward();

        // ½e^0·2 + ½·0 + ½e^(−ln 2)·3 + ½ ln 2 = 1 + 0.75 + 0.3465736 = 2.0965736.
        Assert.Equal(1.75 + 0.5 * Math.Log(2.0), objective.item<double>(), 12);
        // ∂/∂L_i = ½e^(−s_i) = (0.5, 0.25); ∂/∂s_i = −½e^(−s_i)L_i + ½ = (−0.5, −0.25).
        Assert.Equal(new[] { 0.5, 0.25 }, weighting.LastWeights);
        Assert.Equal(0.5, losses[0].grad!.item<double>(), 14);
        Assert.Equal(0.25, losses[1].grad!.item<double>(), 14);
        var sGradient = weighting.LogVariances.grad!.data<double>().ToArray();
        Assert.Equal(-0.5, sGradient[0], 14);
        Assert.Equal(-0.25, sGradient[1], 14);
    }

    [Fact]
    public void ClassificationTaskUsesEquation10()
    {
        using var scope = NewDisposeScope();
        var weighting = new UncertaintyWeighting([UncertaintyTaskKind.Regression, UncertaintyTaskKind.Classification], dtype: ScalarType.Float64);
        var losses = Leaves(2.0, 3.0);

        var objective = weighting.Combine(losses);
        objective.backward();

        // s = 0: ½·2 + 0 (regression) + 1·3 + 0 (classification) = 4; ∂/∂s = (−1 + ½, −3 + ½).
        Assert.Equal(4.0, objective.item<double>(), 14);
        Assert.Equal(new[] { 0.5, 1.0 }, weighting.LastWeights);
        Assert.Equal(new[] { -0.5, -2.5 }, weighting.LogVariances.grad!.data<double>().ToArray());
    }

    [Fact]
    public void LogVarianceGradientVanishesExactlyAtThePapersOptimum()
    {
        var random = new Random(5);
        for (var trial = 0; trial < 20; trial++)
        {
            using var scope = NewDisposeScope();
            var values = Enumerable.Range(0, 4).Select(_ => Math.Exp(random.NextDouble() * 8 - 4)).ToArray();
            UncertaintyTaskKind[] kinds = [UncertaintyTaskKind.Regression, UncertaintyTaskKind.Classification, UncertaintyTaskKind.Regression, UncertaintyTaskKind.Classification];
            var weighting = new UncertaintyWeighting(kinds, dtype: ScalarType.Float64);

            // Regression: e^s = L; classification: e^s = 2L.
            SetLogVariances(weighting, [.. values.Select((l, i) => Math.Log(kinds[i] == UncertaintyTaskKind.Regression ? l : 2 * l))]);
            weighting.Combine(Leaves(values)).backward();
            Assert.All(weighting.LogVariances.grad!.data<double>().ToArray(), g => Assert.Equal(0.0, g, 12));
            // …where every task's effective weight is 1/(2L).
            Assert.Equal(values.Select(l => 1 / (2 * l)), weighting.LastWeights, new ToleranceComparer(1e-12));

            // Anywhere else the gradient is not zero (the test can fail).
            weighting.LogVariances.grad!.zero_();
            SetLogVariances(weighting, [.. values.Select(l => Math.Log(l))]);
            weighting.Combine(Leaves(values)).backward();
            var off = weighting.LogVariances.grad!.data<double>().ToArray();
            Assert.Equal(0.0, off[0], 12);
            Assert.Equal(-0.5, off[1], 12); // −e^(−s)L + ½ = −1 + ½ for a classification task at e^s = L.
        }
    }

    [Fact]
    public void GradientDescentOnTheLogVariancesFindsTheOptimum()
    {
        using var scope = NewDisposeScope();
        var weighting = new UncertaintyWeighting([UncertaintyTaskKind.Regression, UncertaintyTaskKind.Classification], dtype: ScalarType.Float64);
        var optimizer = optim.SGD(weighting.parameters(), 0.5);
        for (var step = 0; step < 300; step++)
        {
            optimizer.zero_grad();
            weighting.Combine(Leaves(0.3, 0.3)).backward();
            optimizer.step();
        }
        var s = weighting.LogVariances.data<double>().ToArray();
        Assert.Equal(Math.Log(0.3), s[0], 6);
        Assert.Equal(Math.Log(0.6), s[1], 6);
    }

    [Fact]
    public void RestoredStateContinuesIdentically()
    {
        using var scope = NewDisposeScope();
        var original = new UncertaintyWeighting(3);
        var optimizer = optim.Adam(original.parameters(), 0.1);
        for (var step = 0; step < 3; step++)
        {
            optimizer.zero_grad();
            original.Combine(Leaves(1.0, 2.0, 0.5)).backward();
            optimizer.step();
        }
        using var stream = new MemoryStream();
        original.SaveState(new BinaryWriter(stream));
        stream.Position = 0;
        var restored = new UncertaintyWeighting(3);
        restored.LoadState(new BinaryReader(stream));

        Assert.True(restored.LogVariances.equal(original.LogVariances).all().item<bool>());
        var a = original.Combine(Leaves(0.7, 1.1, 3.0));
        var b = restored.Combine(Leaves(0.7, 1.1, 3.0));
        Assert.Equal(a.ToDouble(), b.ToDouble());
        Assert.Equal(original.LastWeights, restored.LastWeights);
    }

    [Fact]
    public void ForeignOrMismatchedStateIsRefused()
    {
        using var stream = new MemoryStream();
        var writer = new BinaryWriter(stream);
        writer.Write("PCGrad/1");
        stream.Position = 0;
        Assert.Throws<InvalidDataException>(() => new UncertaintyWeighting(2).LoadState(new BinaryReader(stream)));

        using var other = new MemoryStream();
        new UncertaintyWeighting(3).SaveState(new BinaryWriter(other));
        other.Position = 0;
        Assert.Contains("expected 2", Assert.Throws<InvalidDataException>(() => new UncertaintyWeighting(2).LoadState(new BinaryReader(other))).Message);
    }

    [Fact]
    public void BadArguments()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentOutOfRangeException>(() => new UncertaintyWeighting(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UncertaintyWeighting(2, double.NaN));
        Assert.Throws<ArgumentException>(() => new UncertaintyWeighting(2, dtype: ScalarType.Int32));
        Assert.Throws<ArgumentException>(() => new UncertaintyWeighting(Array.Empty<UncertaintyTaskKind>()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UncertaintyWeighting([(UncertaintyTaskKind)7]));

        var weighting = new UncertaintyWeighting(2);
        Assert.Empty(weighting.LastWeights);
        Assert.Contains("set up for 2 tasks, but 3", Assert.Throws<ArgumentException>(() => weighting.Combine(Leaves(1, 2, 3))).Message);
        Assert.Contains("task 1", Assert.Throws<ArithmeticException>(() => weighting.Combine(Leaves(1, double.NaN))).Message);
    }
}
