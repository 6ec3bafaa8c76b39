using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class NashMTLTests
{
    /// <summary>max_i |α_i (Gα)_i − 1| over the tasks with a non-zero gradient.</summary>
    private static double BargainingViolation(double[,] g, double[] alpha)
    {
        var worst = 0.0;
        for (var i = 0; i < alpha.Length; i++)
        {
            if (g[i, i] == 0)
            {
                continue;
            }
            var row = 0.0;
            for (var j = 0; j < alpha.Length; j++)
            {
                row += g[i, j] * alpha[j];
            }
            worst = Math.Max(worst, Math.Abs(alpha[i] * row - 1));
        }
        return worst;
    }

    [Fact]
    public void WeightsSatisfyTheBargainingConditionOnRandomFullRankJacobians()
    {
        using var scope = NewDisposeScope();
        for (var seed = 0; seed < 30; seed++)
        {
            var tasks = 2 + seed % 9;
            var jacobian = RandomJacobian(tasks, tasks + 1 + seed % 20, seed);
            var g = Jacobian.Gramian(jacobian);
            var alpha = new NashMTL().Weights(g);
            Assert.All(alpha, a => Assert.True(a > 0));
            // Gα = 1/α up to the relative ridge 1e-10 (and rounding).
            Assert.True(BargainingViolation(g, alpha) <= 1e-8, $"seed {seed}: {BargainingViolation(g, alpha)}");
            // Hence ‖d‖² = αᵀGα = Σ α_i (Gα)_i = T.
            var update = new NashMTL().Aggregate(jacobian);
            Assert.Equal(tasks, update.dot(update).item<double>(), 6);
        }
    }

    [Fact]
    public void OrthogonalGradientsGetInverseNorms()
    {
        // G = diag(9, 0.25): α_i² G_ii = 1, so α = (1/3, 2) and d = (1, 1, 0).
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 3.0, 0.0, 0.0 }, { 0.0, 0.5, 0.0 } });
        var alpha = new NashMTL().Weights(Jacobian.Gramian(jacobian));
        Assert.Equal(1.0 / 3, alpha[0], 9);
        Assert.Equal(2.0, alpha[1], 9);
        var update = Values(new NashMTL().Aggregate(jacobian));
        Assert.Equal(1.0, update[0], 9);
        Assert.Equal(1.0, update[1], 9);
        Assert.Equal(0.0, update[2]);
    }

    [Fact]
    public void WorkedExampleWithCorrelatedGradients()
    {
        // g_1 = (1, 0), g_2 = (1, 1): G = [[1, 1], [1, 2]]. α_1 + α_2 = 1/α_1 gives α_2 = 1/α_1 − α_1;
        // substituting in α_1 + 2α_2 = 1/α_2 with x = α_1² gives x² − 4x + 2 = 0, and α_2 > 0 needs x < 1:
        // x = 2 − √2, so α_1 = √(2 − √2) ≈ 0.765367, α_2 = √(1 − 1/√2) ≈ 0.541196 (= α_1/√2),
        // d = (α_1 + α_2, α_2) ≈ (1.306563, 0.541196) and ‖d‖² = 2 = T.
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1.0, 0.0 }, { 1.0, 1.0 } });
        var alpha = new NashMTL().Weights(Jacobian.Gramian(jacobian));
        var alpha1 = Math.Sqrt(2 - Math.Sqrt(2));
        var alpha2 = Math.Sqrt(1 - 1 / Math.Sqrt(2));
        Assert.Equal(alpha1, alpha[0], 9);
        Assert.Equal(alpha2, alpha[1], 9);
        var update = Values(new NashMTL().Aggregate(jacobian));
        Assert.Equal(alpha1 + alpha2, update[0], 9);
        Assert.Equal(alpha2, update[1], 9);
    }

    [Fact]
    public void IdenticalAndDependentGradientsThatAreNotParetoStationaryAreSolvedExactly()
    {
        using var scope = NewDisposeScope();
        // T copies of g: Gα = ‖g‖²(Σα)1 = 1/α gives α_i = 1/(‖g‖√T) and d = √T g/‖g‖.
        var g = tensor(new[] { 3.0, 4.0 });
        var identical = stack([g, g, g]);
        var alpha = new NashMTL().Weights(Jacobian.Gramian(identical));
        Assert.All(alpha, a => Assert.Equal(1 / (5 * Math.Sqrt(3)), a, 9));
        Assert.True(new NashMTL().Aggregate(identical).allclose(Math.Sqrt(3) * g / 5, rtol: 1e-9, atol: 0));

        // Three gradients in a plane, all in one half-plane: rank 2 but a solution exists.
        var dependent = tensor(new[,] { { 1.0, 0.0 }, { 0.0, 1.0 }, { 1.0, 1.0 } });
        var gramian = Jacobian.Gramian(dependent);
        Assert.True(BargainingViolation(gramian, new NashMTL().Weights(gramian)) <= 1e-8);
    }

    [Fact]
    public void RescalingATaskLeavesTheUpdateUnchanged()
    {
        // g_i → s_i g_i gives α_i → α_i/s_i: the bargaining solution ignores gradient magnitudes, here 1e6 apart.
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(3, 6, seed: 8);
        var factors = tensor(new[] { 1e3, 1.0, 1e-3 }, dtype: ScalarType.Float64).unsqueeze(1);
        var update = new NashMTL().Aggregate(jacobian);
        var scaledUpdate = new NashMTL().Aggregate(jacobian * factors);
        Assert.True(scaledUpdate.allclose(update, rtol: 1e-9, atol: 1e-12));
        var g = Jacobian.Gramian(jacobian * factors);
        Assert.True(BargainingViolation(g, new NashMTL().Weights(g)) <= 1e-8);
    }

    [Fact]
    public void AZeroGradientGetsZeroWeight()
    {
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1.0, 2.0 }, { 0.0, 0.0 }, { -1.0, 1.0 } });
        var alpha = new NashMTL().Weights(Jacobian.Gramian(jacobian));
        var without = new NashMTL().Weights(Jacobian.Gramian(jacobian.index_select(0, tensor(new long[] { 0, 2 }))));
        Assert.Equal(0.0, alpha[1]);
        Assert.Equal(without[0], alpha[0], 14);
        Assert.Equal(without[1], alpha[2], 14);

        Assert.Equal(new double[4], Values(new NashMTL().Aggregate(zeros(3, 4, dtype: ScalarType.Float64))));
        Assert.Equal(new double[3], new NashMTL().Weights(new double[3, 3]));
    }

    [Fact]
    public void ParetoStationaryGradientsGiveFiniteWeightsAndAVanishingUpdate()
    {
        // No α satisfies Gα = 1/α (it would need g_iᵀd > 0 for every task); with the ridge ρ = 1e-10,
        // opposite gradients get α_i = ρ^(−1/2)/‖g_i‖ and their update cancels exactly.
        using var scope = NewDisposeScope();
        var opposite = tensor(new[,] { { 2.0, -1.0 }, { -2.0, 1.0 } });
        var alpha = new NashMTL().Weights(Jacobian.Gramian(opposite));
        Assert.All(alpha, a => Assert.Equal(1.0, a * Math.Sqrt(5) * Math.Sqrt(NashMTL.Ridge), 5));
        Assert.Equal(new double[2], Values(new NashMTL().Aggregate(opposite)));

        // A rank-deficient Jacobian with 0 in the hull of its rows (T > P).
        for (var seed = 0; seed < 10; seed++)
        {
            var jacobian = RandomJacobian(6, 2, 500 + seed);
            var update = Values(new NashMTL().Aggregate(jacobian));
            Assert.All(update, v => Assert.True(double.IsFinite(v)));
            // ‖d‖² = T − ρ Σ α_i² ‖g_i‖² ≤ T.
            Assert.True(update.Sum(v => v * v) <= 6 * (1 + 1e-9));
        }
    }

    [Fact]
    public void SingleTaskIsNormalised()
    {
        using var scope = NewDisposeScope();
        // ‖g‖² α = 1/α: α = 1/‖g‖ = 0.2 (times (1 + ρ)^(−1/2), a relative 5e-11), d = g/‖g‖.
        var g = tensor(new[,] { { 3.0, 4.0 } });
        Assert.Equal(0.2 / Math.Sqrt(1 + NashMTL.Ridge), new NashMTL().Weights(Jacobian.Gramian(g))[0], 15);
        Assert.True(new NashMTL().Aggregate(g).allclose(tensor(new[] { 0.6, 0.8 }), rtol: 1e-10, atol: 0));
    }

    [Fact]
    public void UpdateWeightsEveryReusesTheLastSolution()
    {
        using var scope = NewDisposeScope();
        var jacobians = Enumerable.Range(0, 5).Select(seed => RandomJacobian(3, 5, 20 + seed)).ToArray();
        var nash = new NashMTL(updateWeightsEvery: 2);
        var solved0 = NashMTL.Solution(Jacobian.Gramian(jacobians[0]));
        var solved2 = NashMTL.Solution(Jacobian.Gramian(jacobians[2]));
        Assert.True(nash.Aggregate(jacobians[0]).allclose(Jacobian.Combine(jacobians[0], solved0), rtol: 0, atol: 0));
        Assert.True(nash.Aggregate(jacobians[1]).allclose(Jacobian.Combine(jacobians[1], solved0), rtol: 0, atol: 0));
        Assert.Equal(solved2, nash.Weights(Jacobian.Gramian(jacobians[2])));
        Assert.Equal(solved2, nash.Weights(Jacobian.Gramian(jacobians[3])));
        // A different number of tasks forces a fresh solution at once.
        var four = RandomJacobian(4, 5, 30);
        Assert.Equal(NashMTL.Solution(Jacobian.Gramian(four)), nash.Weights(Jacobian.Gramian(four)));
    }

    [Fact]
    public void RestoredStateContinuesIdentically()
    {
        using var scope = NewDisposeScope();
        var jacobians = Enumerable.Range(0, 6).Select(seed => RandomJacobian(3, 5, 40 + seed)).ToArray();
        var original = new NashMTL(updateWeightsEvery: 3);
        original.Aggregate(jacobians[0]);
        using var stream = new MemoryStream();
        original.SaveState(new BinaryWriter(stream));
        var continued = jacobians.Skip(1).Select(j => Values(original.Aggregate(j))).ToArray();

        stream.Position = 0;
        var restored = new NashMTL(updateWeightsEvery: 3);
        restored.LoadState(new BinaryReader(stream));
        var resumed = jacobians.Skip(1).Select(j => Values(restored.Aggregate(j))).ToArray();
        Assert.Equal(continued, resumed);
        // A fresh instance would have re-solved on the first of these calls instead of reusing.
        Assert.NotEqual(continued[0], Values(new NashMTL(updateWeightsEvery: 3).Aggregate(jacobians[1])));
    }

    [Fact]
    public void LoadStateRefusesForeignState()
    {
        using var stream = new MemoryStream();
        var writer = new BinaryWriter(stream);
        writer.Write("PCGrad/1");
        writer.Write(123UL);
        stream.Position = 0;
        Assert.Throws<InvalidDataException>(() => new NashMTL().LoadState(new BinaryReader(stream)));
    }

    [Fact]
    public void KeepsTheJacobiansDtype()
    {
        using var scope = NewDisposeScope();
        AssertKeepsTheJacobiansDtype(() => new NashMTL(), RandomJacobian(4, 20, seed: 7));
    }

    [Fact]
    public void OneHundredTasks()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(100, 150, seed: 9);
        var g = Jacobian.Gramian(jacobian);
        Assert.True(BargainingViolation(g, new NashMTL().Weights(g)) <= 1e-8);
    }

    [Fact]
    public void RejectsBadArguments()
    {
        Assert.Equal("updateWeightsEvery", Assert.Throws<ArgumentOutOfRangeException>(() => new NashMTL(0)).ParamName);
        var nash = new NashMTL();
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => nash.Weights(new double[2, 3])).Message);
        Assert.Contains("negative diagonal", Assert.Throws<ArgumentException>(() => nash.Weights(new[,] { { -1.0 } })).Message);
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => NashMTL.Solution(new[,] { { double.PositiveInfinity } })).Message);
        Assert.Throws<ArgumentNullException>(() => nash.Weights((double[,])null!));
        Assert.Throws<ArgumentNullException>(() => nash.SaveState(null!));
        using var scope = NewDisposeScope();
        Assert.Contains("floating-point", Assert.Throws<ArgumentException>(() => nash.Aggregate(ones(2, 3, dtype: ScalarType.Int64))).Message);
    }
}
