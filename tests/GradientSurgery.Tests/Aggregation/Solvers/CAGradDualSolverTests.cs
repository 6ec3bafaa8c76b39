using GradientSurgery.Aggregation.Solvers;
using static GradientSurgery.Tests.Aggregation.TestJacobians;

namespace GradientSurgery.Tests.Aggregation.Solvers;

public sealed class CAGradDualSolverTests
{
    /// <summary>F(w) = wᵀb + r√(wᵀGw) with b = G1/T and r = c‖g_0‖, from the plain (unregularised) Gramian.</summary>
    private static double Dual(double[,] g, double c, double[] w)
    {
        var t = g.GetLength(0);
        var b = Times(g, Enumerable.Repeat(1.0 / t, t).ToArray());
        var r = c * Math.Sqrt(Math.Max(0, b.Sum() / t));
        return Dot(w, b) + r * Math.Sqrt(Math.Max(0, Dot(w, Times(g, w))));
    }

    private static double Scale(double[,] g, double c)
    {
        var t = g.GetLength(0);
        var b = Times(g, Enumerable.Repeat(1.0 / t, t).ToArray());
        var maxNorm = Math.Sqrt(Enumerable.Range(0, t).Max(i => g[i, i]));
        return b.Max(Math.Abs) + c * Math.Sqrt(Math.Max(0, b.Sum() / t)) * maxNorm;
    }

    [Fact]
    public void TheSimplexProblemsOptimalityConditionsHoldOnRandomGramians()
    {
        // w minimises the convex F̃(w) = wᵀb + r√(wᵀAw) (A = G + η·diag G, the problem the solver defines) over
        // the simplex iff ∂F̃/∂w_i ≥ ν for all i with equality where w_i > 0; F̃'s norm term is 1-homogeneous,
        // so ν = Σ w_i ∂F̃/∂w_i = F̃(w). Half the cases have T > P (rank-deficient, often Pareto stationary).
        foreach (var c in new[] { 0.2, 0.5, 0.9 })
        {
            for (var seed = 0; seed < 20; seed++)
            {
                var tasks = 2 + seed % 9;
                var g = Gram(Gaussian(tasks, 3 + seed % 5, seed));
                var a = WithRidge(g, CAGradDualSolver.DefaultRidge);
                var solution = CAGradDualSolver.Solve(g, c);
                var w = solution.DualWeights;
                Assert.All(w, x => Assert.True(x >= 0));
                Assert.Equal(1.0, w.Sum(), 14);

                var b = Times(g, Enumerable.Repeat(1.0 / tasks, tasks).ToArray());
                var aw = Times(a, w);
                var kappa = Math.Sqrt(Dot(w, aw));
                var r = c * Math.Sqrt(b.Sum() / tasks);
                var partial = Enumerable.Range(0, tasks).Select(i => b[i] + r * aw[i] / kappa).ToArray();
                var nu = Dot(w, partial);
                var tolerance = 1e-10 * Scale(g, c);
                for (var i = 0; i < tasks; i++)
                {
                    Assert.True(partial[i] >= nu - tolerance, $"c {c}, seed {seed}, task {i}: {partial[i]} < {nu}");
                    Assert.True(w[i] * (partial[i] - nu) <= tolerance, $"c {c}, seed {seed}, task {i}: complementarity");
                }
                // The update multiplier is r/κ̃ with κ̃ = √(wᵀAw).
                Assert.Equal(r, solution.Radius, 12);
                Assert.Equal(kappa, solution.Norm, 12);
            }
        }
    }

    [Fact]
    public void TwoTasksMatchABruteForceLineSearch()
    {
        for (var seed = 0; seed < 20; seed++)
        {
            var g = Gram(Gaussian(2, 4, 100 + seed));
            var w = CAGradDualSolver.Solve(g, 0.5).DualWeights;
            // Golden-section search of the convex F(t, 1 − t) on [0, 1].
            double F(double t) => Dual(g, 0.5, [t, 1 - t]);
            double lo = 0, hi = 1;
            var golden = (Math.Sqrt(5) - 1) / 2;
            for (var k = 0; k < 200; k++)
            {
                var x1 = hi - golden * (hi - lo);
                var x2 = lo + golden * (hi - lo);
                if (F(x1) <= F(x2))
                {
                    hi = x2;
                }
                else
                {
                    lo = x1;
                }
            }
            var best = Math.Min(F(0.5 * (lo + hi)), Math.Min(F(0), F(1)));
            Assert.True(Dual(g, 0.5, w) <= best + 1e-13 * Scale(g, 0.5), $"seed {seed}");
            Assert.Equal(0.5 * (lo + hi), w[0], 6);
        }
    }

    [Fact]
    public void ThreeTasksBeatEveryPointOfASimplexGrid()
    {
        for (var seed = 0; seed < 5; seed++)
        {
            var g = Gram(Gaussian(3, 2, 200 + seed));
            var value = Dual(g, 0.7, CAGradDualSolver.Solve(g, 0.7).DualWeights);
            const int n = 200;
            for (var i = 0; i <= n; i++)
            {
                for (var j = 0; i + j <= n; j++)
                {
                    double[] w = [i / (double)n, j / (double)n, (n - i - j) / (double)n];
                    Assert.True(value <= Dual(g, 0.7, w) + 1e-12 * Scale(g, 0.7));
                }
            }
        }
    }

    [Fact]
    public void WorkedExampleWithTheMinimumAtAVertex()
    {
        // g_1 = (2, 0), g_2 = (0, 1), c = 0.5: g_0 = (1, ½), ‖g_0‖ = √5/2, √φ = √5/4. Along w = (t, 1 − t),
        // F(t) = ½ + 1.5t + (√5/4)√(5t² − 2t + 1) has F'(0) = 1.5 − √5/4 > 0, so w = (0, 1), g_w = g_2,
        // ‖g_w‖ = 1 and λ = (½, ½ + √5/4). (The ridge η = 1e-12 inside ‖g_w‖ changes λ_2 by a relative η/2.)
        var g = new[,] { { 4.0, 0.0 }, { 0.0, 1.0 } };
        var solution = CAGradDualSolver.Solve(g, 0.5);
        Assert.Equal(0.0, solution.DualWeights[0], 12);
        Assert.Equal(1.0, solution.DualWeights[1], 12);
        Assert.Equal(0.5, solution.Weights[0], 12);
        Assert.Equal(0.5 + Math.Sqrt(5) / 4, solution.Weights[1], 12);
        Assert.Equal(Math.Sqrt(5) / 4, solution.Radius, 14);
    }

    [Fact]
    public void ZeroRadiusReturnsTheMean()
    {
        var g = Gram(Gaussian(3, 4, 1));
        Assert.All(CAGradDualSolver.Solve(g, 0.0).Weights, w => Assert.Equal(1.0 / 3, w, 15));
        // Opposite gradients: g_0 = 0, so the ball is the point 0 and the update is g_0 = 0.
        var opposite = Gram(new[,] { { 1.0, 2.0 }, { -1.0, -2.0 } });
        var solution = CAGradDualSolver.Solve(opposite, 0.5);
        Assert.Equal(0.0, solution.Radius);
        Assert.All(solution.Weights, w => Assert.Equal(0.5, w));
    }

    [Fact]
    public void OneHundredTasksAreSolvedQuickly()
    {
        var g = Gram(Gaussian(100, 60, seed: 9));
        var solution = CAGradDualSolver.Solve(g, 0.5);
        Assert.All(solution.Weights, w => Assert.True(double.IsFinite(w)));
        Assert.True(solution.NewtonSteps < 400, $"{solution.NewtonSteps} Newton steps");
        var w = solution.DualWeights;
        var b = Times(g, Enumerable.Repeat(0.01, 100).ToArray());
        var gw = Times(g, w);
        var kappa = Math.Sqrt(Dot(w, gw));
        var r = 0.5 * Math.Sqrt(b.Sum() / 100);
        var nu = Dual(g, 0.5, w);
        var tolerance = 1e-9 * Scale(g, 0.5);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(b[i] + r * gw[i] / kappa >= nu - tolerance);
        }
    }

    [Fact]
    public void RejectsBadArguments()
    {
        var g = new[,] { { 1.0 } };
        Assert.Throws<ArgumentNullException>(() => CAGradDualSolver.Solve(null!, 0.5));
        foreach (var c in new[] { -0.1, double.NaN, double.PositiveInfinity })
        {
            Assert.Equal("c", Assert.Throws<ArgumentOutOfRangeException>(() => CAGradDualSolver.Solve(g, c)).ParamName);
        }
        foreach (var ridge in new[] { 0.0, -1.0, double.NaN })
        {
            Assert.Equal("ridge", Assert.Throws<ArgumentOutOfRangeException>(() => CAGradDualSolver.Solve(g, 0.5, ridge)).ParamName);
        }
    }
}
