using GradientSurgery.Aggregation.Solvers;
using static GradientSurgery.Tests.Aggregation.TestJacobians;

namespace GradientSurgery.Tests.Aggregation.Solvers;

public sealed class BargainingSolverTests
{
    private const double Ridge = 1e-10;

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    [InlineData(2.0)]
    [InlineData(0.1)]
    [InlineData(10.0)]
    public void SolvesTheExactConditionOnRandomFullRankGramians(double p)
    {
        for (var seed = 0; seed < 20; seed++)
        {
            var tasks = 2 + seed % 7;
            var g = Gram(Gaussian(tasks, tasks + 5, seed));
            var solution = BargainingSolver.Solve(g, p, ridge: 0.0);
            Assert.True(solution.Converged, $"seed {seed}: residual {solution.RelativeResidual} after {solution.Iterations}");
            Assert.All(solution.Weights, w => Assert.True(w > 0));
            Assert.True(BargainingResidual(g, solution.Weights, p) <= 1e-11, $"seed {seed}");
        }
    }

    [Fact]
    public void WithTheRidgeItSolvesTheRegularisedCondition()
    {
        for (var seed = 0; seed < 10; seed++)
        {
            var g = Gram(Gaussian(4, 6, seed));
            var solution = BargainingSolver.Solve(g, 1.0, Ridge);
            Assert.True(BargainingResidual(WithRidge(g, Ridge), solution.Weights, 1.0) <= 1e-11);
            // …which is the exact condition up to a relative O(ρ).
            Assert.True(BargainingResidual(g, solution.Weights, 1.0) <= 1e-8);
        }
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    public void OrthogonalGradientsHaveTheClosedForm(double p)
    {
        // G diagonal: G_ii w_i = w_i^(−p), so w_i = G_ii^(−1/(1+p)); for p = 1, w = (1/3, 2, 1/2).
        var g = new[,] { { 9.0, 0, 0 }, { 0, 0.25, 0 }, { 0, 0, 4.0 } };
        var w = BargainingSolver.Solve(g, p, ridge: 0.0).Weights;
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(Math.Pow(g[i, i], -1 / (1 + p)), w[i], 14);
        }
    }

    [Fact]
    public void IdenticalGradientsHaveAnExactSolutionDespiteTheSingularGramian()
    {
        // Three copies of a gradient with ‖g‖² = 4: Gw = 4(Σw)1 = w^(−p) gives equal w = 12^(−1/(1+p)).
        var g = Gram(new[,] { { 2.0, 0.0 }, { 2.0, 0.0 }, { 2.0, 0.0 } });
        foreach (var p in new[] { 1.0, 0.5 })
        {
            var solution = BargainingSolver.Solve(g, p, ridge: 0.0);
            Assert.True(solution.Converged);
            Assert.All(solution.Weights, w => Assert.Equal(Math.Pow(12, -1 / (1 + p)), w, 13));
        }
    }

    [Fact]
    public void ZeroGradientsGetZeroWeightAndDoNotAffectTheOthers()
    {
        var jacobian = new[,] { { 1.0, 2.0, 0.0 }, { 0.0, 0.0, 0.0 }, { -0.5, 1.0, 3.0 } };
        var with = BargainingSolver.Solve(Gram(jacobian), 1.0, Ridge).Weights;
        var without = BargainingSolver.Solve(Gram(new[,] { { 1.0, 2.0, 0.0 }, { -0.5, 1.0, 3.0 } }), 1.0, Ridge).Weights;
        Assert.Equal(0.0, with[1]);
        Assert.Equal(without[0], with[0], 14);
        Assert.Equal(without[1], with[2], 14);

        var allZero = BargainingSolver.Solve(new double[3, 3], 1.0, Ridge);
        Assert.Equal(new double[3], allZero.Weights);
    }

    [Fact]
    public void ParetoStationaryGradientsGiveFiniteWeightsAndAVanishingUpdate()
    {
        // No exact solution exists (g_iᵀd > 0 for all i is impossible); the ridge gives w_i = ρ^(−1/2)/‖g_i‖.
        var opposite = new[,] { { 3.0, 0.0 }, { -3.0, 0.0 } };
        var solution = BargainingSolver.Solve(Gram(opposite), 1.0, Ridge);
        // (1 + ρ) itself is rounded to a relative 1e-16, i.e. ρ to a relative 1e-6: compare at that level.
        Assert.All(solution.Weights, w => Assert.Equal(1.0, w / (1e5 / 3), 5));
        Assert.All(Combine(opposite, solution.Weights), x => Assert.Equal(0.0, x, 9));

        // Three unit gradients 120° apart sum to zero.
        var s = Math.Sqrt(3) / 2;
        var star = new[,] { { 1.0, 0.0 }, { -0.5, s }, { -0.5, -s } };
        foreach (var p in new[] { 1.0, 0.5, 4.0 })
        {
            var w = BargainingSolver.Solve(Gram(star), p, Ridge).Weights;
            Assert.All(w, x => Assert.True(double.IsFinite(x) && x > 0));
            var update = Combine(star, w);
            Assert.True(Math.Sqrt(Dot(update, update)) <= 1e-6 * w.Max(), $"p = {p}");
        }
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    [InlineData(3.0)]
    public void MagnitudesDifferingByAMillionAreSolvedToRounding(double p)
    {
        for (var seed = 0; seed < 10; seed++)
        {
            var jacobian = ScaleRows(Gaussian(3, 5, seed), 1e3, 1.0, 1e-3);
            var g = Gram(jacobian);
            var solution = BargainingSolver.Solve(g, p, ridge: 0.0);
            Assert.True(solution.Converged, $"seed {seed}: backward error {solution.BackwardError} after {solution.Iterations}");
            Assert.True(solution.BackwardError <= 1e-14, $"seed {seed}: backward error {solution.BackwardError}");
            if (p <= 1)
            {
                Assert.True(BargainingResidual(g, solution.Weights, p) <= 1e-11, $"seed {seed}");
            }
        }
    }

    [Fact]
    public void ForLargePASmallConflictingTaskIsSolvedExactlyInTheBackwardSense()
    {
        // Worked example, g_1 = (1000, 0), g_2 = (−1, 0.001), p = 3; G = [[1e6, −1e3], [−1e3, 1 + 1e-6]].
        // Write w_2 = 1000 x (1 + δ)/(1 + 1e-6) with x = w_1. Then (Gw)_2 = 1000 x δ and
        // (Gw)_1 = 1e6 x (1e-6 − δ)/(1 + 1e-6). The conditions (Gw)_i = w_i^(−3) give
        // δ = 1e-12 (1 + 1e-6)³ x^(−4) (to a relative 3e-12) and x⁴ = 1 + 2e-6 + 3e-12 (to 1e-17):
        // w_1 ≈ 1.0000005 and w_2 ≈ 999.9995. (Gw)_1 ≈ 1 is the difference of terms ≈ 1e6, so rounding the data
        // at 1e-16 moves w by ~1e-11 (and the float64 value of 1 + 1e-6 differs from it by 8e-17): compare at 1e-10.
        // (Gw)_2 ≈ 1e-9 is the difference of terms ≈ 1e3, so its relative residual can only be shown to ~1e-4;
        // the backward error (the residual relative to the terms) is at rounding.
        var g = Gram(new[,] { { 1000.0, 0.0 }, { -1.0, 0.001 } });
        var solution = BargainingSolver.Solve(g, 3.0, ridge: 0.0);
        var x = Math.Pow(1 + 2e-6 + 3e-12, 0.25);
        var delta = 1e-12 * Math.Pow(1 + 1e-6, 3) / Math.Pow(x, 4);
        Assert.Equal(1.0, solution.Weights[0] / x, 10);
        Assert.Equal(1.0, solution.Weights[1] / (1000 * x * (1 + delta) / (1 + 1e-6)), 10);
        Assert.True(solution.Converged);
        Assert.True(solution.BackwardError <= 1e-15, $"{solution.BackwardError}");
        Assert.True(BargainingResidual(g, solution.Weights, 3.0) <= 1e-2, $"{BargainingResidual(g, solution.Weights, 3.0)}");
    }

    [Fact]
    public void ExtremeMagnitudesAreSolvedInTheBackwardSense()
    {
        // Norms 1e6, 1 and 1e-3 in conflicting directions: the smallest task's (Gw)_i can be a cancellation of
        // terms 1e15 times larger than itself, so only the backward error can be at rounding.
        for (var seed = 0; seed < 10; seed++)
        {
            var jacobian = ScaleRows(Gaussian(3, 5, seed), 1e6, 1.0, 1e-3);
            foreach (var p in new[] { 1.0, 0.5, 3.0 })
            {
                var solution = BargainingSolver.Solve(Gram(jacobian), p, ridge: 1e-10);
                Assert.All(solution.Weights, w => Assert.True(double.IsFinite(w) && w > 0));
                Assert.True(solution.Converged, $"seed {seed}, p = {p}: backward error {solution.BackwardError}");
            }
        }
    }

    [Fact]
    public void ForPEqualOneRescalingATaskDividesItsWeight()
    {
        // (SGS)(S⁻¹w) = S(Gw) = S/w = 1/(S⁻¹w): the p = 1 condition is equivariant to task scaling.
        var jacobian = Gaussian(4, 7, seed: 3);
        var factors = new[] { 1e6, 1.0, 1e-3, 5.0 };
        var w = BargainingSolver.Solve(Gram(jacobian), 1.0, Ridge).Weights;
        var scaled = BargainingSolver.Solve(Gram(ScaleRows(jacobian, factors)), 1.0, Ridge).Weights;
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(1.0, scaled[i] * factors[i] / w[i], 11);
        }
    }

    [Fact]
    public void IndefiniteRoundingIsRepairedWithoutNaN()
    {
        // Three gradients in a plane containing 0 in their hull; the off-diagonals are perturbed by 1e-7
        // relative, as float32 rounding would, which makes G indefinite by far more than the ridge.
        var g = Gram(new[,] { { 1.0, 0.0 }, { -1.0, 0.001 }, { 0.3, -1.0 } });
        g[0, 1] = g[1, 0] = g[0, 1] * (1 + 1e-7);
        var solution = BargainingSolver.Solve(g, 1.0, Ridge);
        Assert.True(solution.Repaired);
        Assert.All(solution.Weights, w => Assert.True(double.IsFinite(w) && w > 0));
    }

    [Fact]
    public void OneHundredTasksConvergeQuickly()
    {
        var g = Gram(Gaussian(100, 150, seed: 11));
        var solution = BargainingSolver.Solve(g, 1.0, Ridge);
        Assert.True(solution.Converged);
        Assert.True(solution.Iterations < 100, $"{solution.Iterations} iterations");
        Assert.True(BargainingResidual(WithRidge(g, Ridge), solution.Weights, 1.0) <= 1e-11);
    }

    [Fact]
    public void RejectsBadArguments()
    {
        var g = new[,] { { 1.0 } };
        Assert.Throws<ArgumentNullException>(() => BargainingSolver.Solve(null!, 1.0, Ridge));
        foreach (var p in new[] { 0.0, -1.0, double.NaN, double.PositiveInfinity })
        {
            Assert.Equal("exponent", Assert.Throws<ArgumentOutOfRangeException>(() => BargainingSolver.Solve(g, p, Ridge)).ParamName);
        }
        foreach (var ridge in new[] { -1e-3, double.NaN, double.PositiveInfinity })
        {
            Assert.Equal("ridge", Assert.Throws<ArgumentOutOfRangeException>(() => BargainingSolver.Solve(g, 1.0, ridge)).ParamName);
        }
        Assert.Equal("tolerance", Assert.Throws<ArgumentOutOfRangeException>(() => BargainingSolver.Solve(g, 1.0, Ridge, 0.0)).ParamName);
    }
}
