using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class GradDropTests
{
    private static Tensor Adversarial(string name) => TestJacobians.Adversarial(name, seed: 37);

    /// <summary>Each element of the update is the sum of its positive entries, of its negative entries, or 0.</summary>
    private static (int Positive, int Negative) AssertEachElementKeepsOneSign(Tensor jacobian, Tensor update)
    {
        using var scope = NewDisposeScope();
        var positive = jacobian.clamp_min(0).sum(dim: 0).data<double>().ToArray();
        var negative = jacobian.clamp_max(0).sum(dim: 0).data<double>().ToArray();
        var scale = jacobian.abs().sum(dim: 0).data<double>().ToArray();
        var values = update.data<double>().ToArray();
        var (positiveCount, negativeCount) = (0, 0);
        for (var k = 0; k < values.Length; k++)
        {
            var tolerance = 1e-14 * scale[k];
            var isPositive = Math.Abs(values[k] - positive[k]) <= tolerance;
            var isNegative = Math.Abs(values[k] - negative[k]) <= tolerance;
            Assert.True(isPositive || isNegative, $"element {k}: {values[k]} is neither {positive[k]} nor {negative[k]}");
            positiveCount += isPositive && positive[k] != 0 ? 1 : 0;
            negativeCount += isNegative && negative[k] != 0 ? 1 : 0;
        }
        return (positiveCount, negativeCount);
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(5, 2)]
    [InlineData(20, 3)]
    public void EveryElementKeepsOnlyPositiveOrOnlyNegativeContributions(int tasks, long seed)
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(tasks, 2000, seed);
        var (positive, negative) = AssertEachElementKeepsOneSign(jacobian, new GradDrop(seed: seed).Aggregate(jacobian));
        Assert.True(positive > 500 && negative > 500, $"{positive} positive and {negative} negative elements");
    }

    [Fact]
    public void WhenAllTasksAgreeInSignTheUpdateIsTheSum()
    {
        // P = 1 where every entry is ≥ 0 and P = 0 where every entry is ≤ 0; U lies strictly inside (0, 1).
        using var scope = NewDisposeScope();
        var magnitudes = RandomJacobian(4, 500, seed: 6).abs();
        var signs = where(RandomJacobian(1, 500, seed: 7) > 0, 1.0, -1.0);
        var jacobian = magnitudes * signs;
        jacobian[1, 3] = 0.0;
        for (var seed = 0; seed < 5; seed++)
        {
            Assert.True(new GradDrop(seed: seed).Aggregate(jacobian).allclose(jacobian.sum(dim: 0), rtol: 1e-15, atol: 0));
        }
        Assert.True(new GradDrop(seed: 0).Aggregate(jacobian, [.. Enumerable.Repeat(1e-300, 250), .. Enumerable.Repeat(1.0 - 1e-16, 250)])
            .allclose(jacobian.sum(dim: 0), rtol: 1e-15, atol: 0));
    }

    [Fact]
    public void WorkedExampleWithGivenSamples()
    {
        // Columns: (2, −2) has P = ½(1 + 0/4) = 0.5; (−1, −3) has P = 0; (0.5, 1.5) has P = 1.
        // U = (0.3, 0.6, 0.2): 0.5 > 0.3 keeps the positive 2; P = 0 < 0.6 keeps the negatives −4; P = 1 keeps 2.
        // U = (0.7, …): 0.5 < 0.7 keeps the negative −2 instead. With leak ℓ = 0.5 and U = 0.3, the dropped −2 still
        // contributes 0.5·(−2): 2 − 1 = 1.
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 2.0, -1.0, 0.5 }, { -2.0, -3.0, 1.5 } });
        Assert.Equal(new[] { 2.0, -4.0, 2.0 }, new GradDrop().Aggregate(jacobian, [0.3, 0.6, 0.2]).data<double>().ToArray());
        Assert.Equal(new[] { -2.0, -4.0, 2.0 }, new GradDrop().Aggregate(jacobian, [0.7, 0.6, 0.2]).data<double>().ToArray());
        Assert.Equal(new[] { 1.0, -4.0, 2.0 }, new GradDrop(leak: 0.5).Aggregate(jacobian, [0.3, 0.6, 0.2]).data<double>().ToArray());
        // Per-task leaks: only task 1's dropped −2 leaks, at 0.25.
        Assert.Equal(new[] { 1.5, -4.0, 2.0 }, new GradDrop([0.9, 0.25]).Aggregate(jacobian, [0.3, 0.6, 0.2]).data<double>().ToArray());
        // U exactly equal to P keeps neither sign (both comparisons in Algorithm 1 are strict).
        Assert.Equal(new[] { 0.0, -4.0, 2.0 }, new GradDrop().Aggregate(jacobian, [0.5, 0.6, 0.2]).data<double>().ToArray());
    }

    [Fact]
    public void ThePositiveSignIsKeptWithProbabilityP()
    {
        // Every column is (3, −1): P = ½(1 + 2/4) = 0.75. Over 4000 independent columns the fraction that keeps +3
        // is 0.75 ± 5 standard deviations (σ = √(0.75·0.25/4000) ≈ 0.0068).
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[] { 3.0, -1.0 }).unsqueeze(1).expand(2, 4000).contiguous();
        var update = new GradDrop(seed: 99).Aggregate(jacobian).data<double>().ToArray();
        Assert.All(update, v => Assert.True(v is 3.0 or -1.0));
        Assert.InRange(update.Count(v => v == 3.0) / 4000.0, 0.75 - 0.035, 0.75 + 0.035);
    }

    [Fact]
    public void SameSeedGivesBitIdenticalUpdatesAndOtherSeedsDiffer()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(3, 300, seed: 5);
        var a = new GradDrop(seed: 42);
        var b = new GradDrop(seed: 42);
        for (var step = 0; step < 5; step++)
        {
            Assert.True(a.Aggregate(jacobian).equal(b.Aggregate(jacobian)).all().item<bool>(), $"step {step}");
        }
        Assert.False(new GradDrop(seed: 1).Aggregate(jacobian).equal(new GradDrop(seed: 2).Aggregate(jacobian)).all().item<bool>());
    }

    [Fact]
    public void RestoredStateContinuesIdentically()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(3, 300, seed: 5);
        var original = new GradDrop(seed: 3);
        original.Aggregate(jacobian);
        var restored = new GradDrop(seed: 4);
        CopyState(original, restored);
        for (var step = 0; step < 3; step++)
        {
            Assert.True(original.Aggregate(jacobian).equal(restored.Aggregate(jacobian)).all().item<bool>(), $"step {step}");
        }
        Assert.Contains("RLW/1", RefusalMessage(new GradDrop(), foreign: new RLW(seed: 1)));
    }

    [Fact]
    public void UniformSamplesLieStrictlyInsideTheUnitInterval()
    {
        var samples = new GradDrop(seed: 11).DrawUniforms(20000);
        Assert.All(samples, u => Assert.True(u > 0.0 && u < 1.0));
        Assert.InRange(samples.Average(), 0.5 - 0.01, 0.5 + 0.01);
    }

    [Theory]
    [MemberData(nameof(AdversarialNames), MemberType = typeof(TestJacobians))]
    public void AdversarialInputsGiveFiniteSignConsistentUpdates(string name)
    {
        using var scope = NewDisposeScope();
        var jacobian = Adversarial(name);
        var update = new GradDrop(seed: 1).Aggregate(jacobian);
        Assert.True(isfinite(update).all().item<bool>());
        AssertEachElementKeepsOneSign(jacobian, update);
    }

    [Fact]
    public void SingleTaskReturnsItsGradient()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(1, 50, seed: 8);
        Assert.True(new GradDrop(seed: 1).Aggregate(jacobian).equal(jacobian[0]).all().item<bool>());
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void KeepsTheJacobiansDtype(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(3, 40, seed: 9).to(dtype);
        var update = new GradDrop(seed: 5).Aggregate(jacobian);
        Assert.Equal(dtype, update.dtype);
        AssertEachElementKeepsOneSign(jacobian.to(ScalarType.Float64), new GradDrop(seed: 5).Aggregate(jacobian.to(ScalarType.Float64)));
    }

    [Fact]
    public void RejectsBadArguments()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(2, 3, seed: 1);
        Assert.Equal("leak", Assert.Throws<ArgumentOutOfRangeException>(() => new GradDrop(leak: 1.5)).ParamName);
        Assert.Equal("leak", Assert.Throws<ArgumentOutOfRangeException>(() => new GradDrop(leak: double.NaN)).ParamName);
        Assert.Contains("task 1", Assert.Throws<ArgumentOutOfRangeException>(() => new GradDrop([0.0, -0.1])).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => new GradDrop(Array.Empty<double>())).Message);
        Assert.Contains("3 leaks, but the Jacobian has 2 tasks", Assert.Throws<ArgumentException>(() => new GradDrop([0.0, 0.0, 0.0]).Aggregate(jacobian)).Message);
        Assert.Contains("Expected 3 uniform samples", Assert.Throws<ArgumentException>(() => new GradDrop().Aggregate(jacobian, [0.5])).Message);
        Assert.Contains("outside [0, 1]", Assert.Throws<ArgumentException>(() => new GradDrop().Aggregate(jacobian, [0.5, 1.5, 0.5])).Message);
        Assert.Contains("2-D", Assert.Throws<ArgumentException>(() => new GradDrop().Aggregate(ones(3))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradDrop().DrawUniforms(-1));
    }
}
