using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class RLWTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(100)]
    public void WeightsArePositiveAndSumToOne(int tasks)
    {
        var rlw = new RLW(seed: tasks);
        for (var draw = 0; draw < 200; draw++)
        {
            var weights = rlw.DrawWeights(tasks);
            Assert.Equal(tasks, weights.Length);
            Assert.All(weights, w => Assert.True(w > 0 && w <= 1 && double.IsFinite(w)));
            Assert.Equal(1.0, weights.Sum(), 13);
        }
    }

    [Fact]
    public void EachWeightAveragesOneOverT()
    {
        // By symmetry E[λ_i] = 1/T. Each weight of 4 has a standard deviation below 0.25, so the mean of 20000 draws
        // is within 5·0.25/√20000 ≈ 0.009 of 0.25.
        var rlw = new RLW(seed: 3);
        var sums = new double[4];
        for (var draw = 0; draw < 20000; draw++)
        {
            var weights = rlw.DrawWeights(4);
            for (var i = 0; i < 4; i++)
            {
                sums[i] += weights[i];
            }
        }
        Assert.All(sums, s => Assert.InRange(s / 20000, 0.25 - 0.009, 0.25 + 0.009));
    }

    [Fact]
    public void LogitsAreStandardNormal()
    {
        // log(λ_0/λ_1) = λ̃_0 − λ̃_1 ~ 𝒩(0, 2): over 20000 draws its mean is within 5·√(2/20000) = 0.05 of 0, its
        // variance within about 5·2·√(2/20000) = 0.1 of 2, and about 68.3% of draws lie within one standard deviation.
        var rlw = new RLW(seed: 4);
        var differences = Enumerable.Range(0, 20000).Select(_ =>
        {
            var weights = rlw.DrawWeights(2);
            return Math.Log(weights[0] / weights[1]);
        }).ToArray();
        var mean = differences.Average();
        var variance = differences.Select(d => (d - mean) * (d - mean)).Sum() / (differences.Length - 1);
        Assert.InRange(mean, -0.05, 0.05);
        Assert.InRange(variance, 1.9, 2.1);
        var withinOneSigma = differences.Count(d => Math.Abs(d) < Math.Sqrt(2.0)) / (double)differences.Length;
        Assert.InRange(withinOneSigma, 0.6827 - 0.017, 0.6827 + 0.017);
    }

    [Fact]
    public void WorkedExampleFromTheFirstFourDrawsOfSeedZero()
    {
        // SplitMix64 from state 0 yields 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC
        // (the reference sequence). Box–Muller on u1 = ((x1 >> 11) + 1)/2⁵³ = 0.883311…, u2 = (x2 >> 11)/2⁵³ = 0.431528…
        // gives λ̃_0 = √(−2 ln u1) cos(2π u2) = −0.452758…; x3, x4 give u = 0.026434…, 0.970882… and λ̃_1 = 2.650606….
        // softmax: λ_0 = 1/(1 + e^(λ̃_1 − λ̃_0)) = 0.0429687…, λ_1 = 0.9570313….
        var generator = new SplitMix64(0);
        Assert.Equal(
            new[] { 0xE220A8397B1DCDAFUL, 0x6E789E6AA1B965F4UL, 0x06C45D188009454FUL, 0xF88BB8A8724C81ECUL },
            new[] { generator.NextUInt64(), generator.NextUInt64(), generator.NextUInt64(), generator.NextUInt64() });

        var weights = new RLW(seed: 0).DrawWeights(2);
        Assert.Equal(0.04296872472818204, weights[0], 14);
        Assert.Equal(0.957031275271818, weights[1], 14);

        using var scope = NewDisposeScope();
        // With J = [[1, 0], [0, 1], [1, 1]] the update (λ_0 + λ_2, λ_1 + λ_2) exposes the weights.
        var jacobian = tensor(new[,] { { 1.0, 0.0 }, { 0.0, 1.0 }, { 1.0, 1.0 } });
        var expected = new RLW(seed: 9).DrawWeights(3);
        var update = new RLW(seed: 9).Aggregate(jacobian).data<double>().ToArray();
        Assert.Equal(expected[0] + expected[2], update[0], 15);
        Assert.Equal(expected[1] + expected[2], update[1], 15);
    }

    [Fact]
    public void WeightsIgnoreTheGramianButFollowItsSize()
    {
        var a = new RLW(seed: 5).Weights(new[,] { { 1.0, -1.0 }, { -1.0, 1.0 } });
        var b = new RLW(seed: 5).Weights(new[,] { { 9.0, 0.0 }, { 0.0, 0.0 } });
        Assert.Equal(a, b);
        Assert.Equal(2, a.Length);
    }

    [Fact]
    public void SameSeedGivesTheSameSequenceAndOtherSeedsDiffer()
    {
        var a = new RLW(seed: 42);
        var b = new RLW(seed: 42);
        for (var draw = 0; draw < 10; draw++)
        {
            Assert.Equal(a.DrawWeights(5), b.DrawWeights(5));
        }
        Assert.NotEqual(new RLW(seed: 1).DrawWeights(5), new RLW(seed: 2).DrawWeights(5));
    }

    [Fact]
    public void RestoredStateContinuesIdentically()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(3, 10, seed: 3);
        var original = new RLW(seed: 6);
        original.Aggregate(jacobian);
        var restored = new RLW(seed: 7);
        CopyState(original, restored);
        for (var step = 0; step < 3; step++)
        {
            Assert.True(original.Aggregate(jacobian).equal(restored.Aggregate(jacobian)).all().item<bool>(), $"step {step}");
        }
        Assert.Contains("GradDrop/1", RefusalMessage(new RLW(), foreign: new GradDrop(seed: 1)));
    }

    [Fact]
    public void KeepsTheJacobiansDtype()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(3, 10, seed: 3, ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, new RLW(seed: 1).Aggregate(jacobian).dtype);
    }

    [Fact]
    public void RejectsBadArguments()
    {
        using var scope = NewDisposeScope();
        var rlw = new RLW();
        Assert.Throws<ArgumentOutOfRangeException>(() => rlw.DrawWeights(0));
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => rlw.Weights(new double[2, 1])).Message);
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => rlw.Weights(new[,] { { double.NaN } })).Message);
        Assert.Contains("at least one task", Assert.Throws<ArgumentException>(() => rlw.Aggregate(ones(0, 3))).Message);
        Assert.Throws<ArgumentNullException>(() => rlw.SaveState(null!));
    }
}
