using GradientSurgery.Aggregation;
using GradientSurgery.Aggregation.Solvers;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class CAGradTests
{
    /// <summary>min_i g_iᵀd: the worst task improvement the paper's primal problem maximises.</summary>
    private static double WorstImprovement(Tensor jacobian, Tensor update) => jacobian.mv(update).min().item<double>();

    /// <summary>The dual value F(w) = g_wᵀg_0 + c‖g_0‖‖g_w‖ at the solver's w, from the plain Gramian.</summary>
    private static double DualValue(Tensor jacobian, double c)
    {
        var g0 = jacobian.mean([0]);
        var w = CAGradDualSolver.Solve(Jacobian.Gramian(jacobian), c).DualWeights;
        var gw = Jacobian.Combine(jacobian, w);
        return gw.dot(g0).item<double>() + c * g0.norm().item<double>() * gw.norm().item<double>();
    }

    [Fact]
    public void CZeroIsTheMeanGradient()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(4, 10, seed: 1);
        Assert.True(new CAGrad(0.0).Aggregate(jacobian).allclose(jacobian.mean([0]), rtol: 0, atol: 1e-15));
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    public void TheUpdateSolvesThePrimalProblemOnRandomJacobians(double c)
    {
        // Primal (the paper): maximise min_i g_iᵀd subject to ‖d − g_0‖ ≤ c‖g_0‖. The update must be feasible
        // and its worst improvement must equal the dual value F(w), which bounds every feasible d (weak duality).
        using var scope = NewDisposeScope();
        for (var seed = 0; seed < 24; seed++)
        {
            var tasks = 2 + seed % 8;
            var jacobian = RandomJacobian(tasks, tasks + 2 + seed % 5, seed);
            var update = new CAGrad(c).Aggregate(jacobian);
            var g0 = jacobian.mean([0]);
            var radius = c * g0.norm().item<double>();
            var scale = jacobian.norm().item<double>() * g0.norm().item<double>();
            Assert.True((update - g0).norm().item<double>() <= radius * (1 + 1e-12), $"seed {seed}: outside the ball");
            Assert.Equal(DualValue(jacobian, c), WorstImprovement(jacobian, update), 9 - (int)Math.Ceiling(Math.Log10(scale)));

            // No random feasible direction does better.
            var generator = new Generator((ulong)(1000 + seed));
            for (var k = 0; k < 50; k++)
            {
                var direction = randn(g0.shape, dtype: ScalarType.Float64, generator: generator);
                var candidate = g0 + radius * rand(1, dtype: ScalarType.Float64, generator: generator) * direction / direction.norm();
                Assert.True(WorstImprovement(jacobian, candidate) <= WorstImprovement(jacobian, update) + 1e-12 * scale);
            }
        }
    }

    [Fact]
    public void InTwoDimensionsNoPointOfTheBallDoesBetter()
    {
        // Brute force over a polar grid of the disc: the max–min found by duality is the true maximum.
        using var scope = NewDisposeScope();
        for (var seed = 0; seed < 5; seed++)
        {
            var jacobian = RandomJacobian(3, 2, 50 + seed);
            var update = new CAGrad(0.6).Aggregate(jacobian);
            var ours = WorstImprovement(jacobian, update);
            var g = Values(jacobian);
            var g0 = Values(jacobian.mean([0]));
            var radius = 0.6 * Math.Sqrt(g0[0] * g0[0] + g0[1] * g0[1]);
            var best = double.NegativeInfinity;
            for (var a = 0; a < 3600; a++)
            {
                var angle = a * Math.PI / 1800;
                foreach (var fraction in new[] { 0.25, 0.5, 0.75, 1.0 })
                {
                    var d0 = g0[0] + fraction * radius * Math.Cos(angle);
                    var d1 = g0[1] + fraction * radius * Math.Sin(angle);
                    var worst = Math.Min(g[0] * d0 + g[1] * d1, Math.Min(g[2] * d0 + g[3] * d1, g[4] * d0 + g[5] * d1));
                    best = Math.Max(best, worst);
                }
            }
            Assert.True(best <= ours + 1e-12, $"seed {seed}: grid {best} > {ours}");
            Assert.True(best >= ours - 1e-4, $"seed {seed}: grid {best} ≪ {ours}");
        }
    }

    [Fact]
    public void WorkedExampleWithTheWorstTaskTakingTheCorrection()
    {
        // g_1 = (2, 0), g_2 = (0, 1), c = 0.5: g_0 = (1, ½), ‖g_0‖ = √5/2, √φ = √5/4 ≈ 0.559. On w = (t, 1 − t),
        // F(t) = g_wᵀg_0 + √φ‖g_w‖ = ½ + 1.5t + (√5/4)√(5t² − 2t + 1), whose slope at t = 0 is 1.5 − √5/4 > 0:
        // w = (0, 1), g_w = g_2, ‖g_w‖ = 1, and d = g_0 + √φ g_2 = (1, ½ + √5/4) ≈ (1, 1.059). The worst task
        // (task 2) improves by g_2ᵀd = ½ + √5/4 = F(w); task 1 by 2. (The ridge moves λ_2 by a relative 5e-13.)
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 2.0, 0.0 }, { 0.0, 1.0 } });
        var cagrad = new CAGrad(0.5);
        var expected = 0.5 + Math.Sqrt(5) / 4;
        var weights = cagrad.Weights(Jacobian.Gramian(jacobian));
        Assert.Equal(0.5, weights[0], 12);
        Assert.Equal(expected, weights[1], 12);
        var update = Values(cagrad.Aggregate(jacobian));
        Assert.Equal(1.0, update[0], 12);
        Assert.Equal(expected, update[1], 12);
    }

    [Fact]
    public void WorkedExampleSymmetricTasksScaleTheMeanByOnePlusC()
    {
        // g_1 = (1, 0), g_2 = (0, 1): by symmetry w = (½, ½), so g_w = g_0 = (½, ½) and
        // d = g_0 + c‖g_0‖ g_0/‖g_0‖ = (1 + c) g_0 = (0.75, 0.75) for c = 0.5.
        using var scope = NewDisposeScope();
        var update = Values(new CAGrad(0.5).Aggregate(tensor(new[,] { { 1.0, 0.0 }, { 0.0, 1.0 } })));
        Assert.Equal(0.75, update[0], 12);
        Assert.Equal(0.75, update[1], 12);
    }

    [Fact]
    public void RescaleDividesByOnePlusCSquared()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(3, 6, seed: 4);
        var plain = new CAGrad(0.4).Aggregate(jacobian);
        var rescaled = new CAGrad(0.4, rescale: true).Aggregate(jacobian);
        Assert.True(rescaled.allclose(plain / 1.16, rtol: 1e-14, atol: 0));
        Assert.True(new CAGrad(0.4, rescale: true).Rescale);
    }

    [Fact]
    public void SingleTaskAndIdenticalTasksGiveOnePlusCTimesTheGradient()
    {
        using var scope = NewDisposeScope();
        var g = RandomJacobian(1, 7, seed: 5);
        Assert.True(new CAGrad(0.3).Aggregate(g).allclose(1.3 * g[0], rtol: 1e-12, atol: 0));
        var identical = cat([g, g, g], 0);
        Assert.True(new CAGrad(0.3).Aggregate(identical).allclose(1.3 * g[0], rtol: 1e-9, atol: 0));
    }

    [Fact]
    public void OppositeAndZeroGradientsGiveAZeroUpdate()
    {
        using var scope = NewDisposeScope();
        // g_0 = 0 makes the ball the single point 0.
        var opposite = tensor(new[,] { { 1.0, -2.0, 3.0 }, { -1.0, 2.0, -3.0 } });
        Assert.Equal(new double[3], Values(new CAGrad(0.5).Aggregate(opposite)));
        var zero = zeros(3, 4, dtype: ScalarType.Float64);
        Assert.Equal(new double[4], Values(new CAGrad(0.5).Aggregate(zero)));
        Assert.Equal(new[] { 1.0 / 3, 1.0 / 3, 1.0 / 3 }, new CAGrad(0.5).Weights(new double[3, 3]));
    }

    [Fact]
    public void AZeroGradientIsLeftOutOfTheMaxMin()
    {
        // g_1 = (1, 0), g_2 = (0, 1), g_3 = 0, c = 0.5. Task 3 can never improve, so every feasible d with
        // g_1ᵀd, g_2ᵀd ≥ 0 is primal optimal (value 0). Over tasks 1 and 2, by symmetry w = (½, ½, 0),
        // g_w = (½, ½), ‖g_0‖ = √2/3, √φ = √2/6, so d = g_0 + (√φ/‖g_w‖) g_w = (1/3 + 1/6)(1, 1) = (½, ½),
        // λ = (½, ½, ⅓), and both tasks improve by ½ > 0.
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1.0, 0.0 }, { 0.0, 1.0 }, { 0.0, 0.0 } });
        var weights = new CAGrad(0.5).Weights(Jacobian.Gramian(jacobian));
        Assert.Equal(0.5, weights[0], 12);
        Assert.Equal(0.5, weights[1], 12);
        Assert.Equal(1.0 / 3, weights[2], 15);
        var update = new CAGrad(0.5).Aggregate(jacobian);
        Assert.True((update - jacobian.mean([0])).norm().item<double>() <= Math.Sqrt(2) / 6 * (1 + 1e-12));
        Assert.Equal(0.0, WorstImprovement(jacobian, update));
    }

    [Fact]
    public void AParetoStationaryPointStillGetsAPrimalOptimalUpdate()
    {
        // g_1 = (1, 0), g_2 = (−1, 0), g_3 = (0, 1): F(½, ½, 0) = 0 with g_w = 0, the formula's 0/0. Every d
        // in the ball with d_1 = 0 and d_2 ≥ 0 is optimal (worst improvement 0); by symmetry the ridge picks
        // d = g_0 = (0, ⅓).
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1.0, 0.0 }, { -1.0, 0.0 }, { 0.0, 1.0 } });
        var update = new CAGrad(0.5).Aggregate(jacobian);
        var values = Values(update);
        Assert.All(values, v => Assert.True(double.IsFinite(v)));
        Assert.True((update - jacobian.mean([0])).norm().item<double>() <= 0.5 / 3 * (1 + 1e-12));
        Assert.True(WorstImprovement(jacobian, update) >= -1e-6, $"{WorstImprovement(jacobian, update)}");
        Assert.Equal(0.0, values[0], 6);
        Assert.Equal(1.0 / 3, values[1], 6);
    }

    [Fact]
    public void RankDeficientJacobiansWithMoreTasksThanParameters()
    {
        // T > P: often Pareto stationary (0 in the hull); the update stays feasible and within √η of optimal.
        using var scope = NewDisposeScope();
        for (var seed = 0; seed < 10; seed++)
        {
            var jacobian = RandomJacobian(6, 3, 300 + seed);
            var update = new CAGrad(0.5).Aggregate(jacobian);
            var g0 = jacobian.mean([0]);
            Assert.True((update - g0).norm().item<double>() <= 0.5 * g0.norm().item<double>() * (1 + 1e-12));
            var scale = jacobian.norm().item<double>() * g0.norm().item<double>();
            Assert.True(Math.Abs(WorstImprovement(jacobian, update) - DualValue(jacobian, 0.5)) <= 1e-5 * scale, $"seed {seed}");
        }
    }

    [Fact]
    public void MagnitudesDifferingByAMillion()
    {
        // g_1 = (1e6, 0), g_2 = (0, 1): F(t) = g_wᵀg_0 + √φ‖g_w‖ is increasing from w = (0, 1), so g_w = g_2 and
        // d = g_0 + c‖g_0‖ g_2 = (5e5, ½ + c‖g_0‖): the tiny task receives the whole correction.
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1e6, 0.0 }, { 0.0, 1.0 } });
        var update = Values(new CAGrad(0.5).Aggregate(jacobian));
        var g0Norm = Math.Sqrt(0.25e12 + 0.25);
        Assert.Equal(5e5, update[0], 6);
        Assert.Equal(1.0, update[1] / (0.5 + 0.5 * g0Norm), 11);

        for (var seed = 0; seed < 5; seed++)
        {
            var scaled = RandomJacobian(3, 5, 400 + seed) * tensor(new[] { 1e3, 1.0, 1e-3 }, dtype: ScalarType.Float64).unsqueeze(1);
            var d = new CAGrad(0.5).Aggregate(scaled);
            var g0 = scaled.mean([0]);
            Assert.True((d - g0).norm().item<double>() <= 0.5 * g0.norm().item<double>() * (1 + 1e-12));
            var scale = scaled.norm().item<double>() * g0.norm().item<double>();
            Assert.True(Math.Abs(WorstImprovement(scaled, d) - DualValue(scaled, 0.5)) <= 1e-9 * scale, $"seed {seed}");
        }
    }

    [Fact]
    public void OneHundredTasks()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(100, 150, seed: 6);
        var update = new CAGrad(0.5).Aggregate(jacobian);
        var g0 = jacobian.mean([0]);
        Assert.True((update - g0).norm().item<double>() <= 0.5 * g0.norm().item<double>() * (1 + 1e-12));
        var scale = jacobian.norm().item<double>() * g0.norm().item<double>();
        Assert.True(Math.Abs(WorstImprovement(jacobian, update) - DualValue(jacobian, 0.5)) <= 1e-9 * scale);
    }

    [Fact]
    public void KeepsTheJacobiansDtype()
    {
        using var scope = NewDisposeScope();
        AssertKeepsTheJacobiansDtype(() => new CAGrad(), RandomJacobian(4, 20, seed: 7));
    }

    [Fact]
    public void RejectsBadArguments()
    {
        foreach (var c in new[] { -0.1, 1.0, 1.5, double.NaN, double.PositiveInfinity })
        {
            Assert.Equal("c", Assert.Throws<ArgumentOutOfRangeException>(() => new CAGrad(c)).ParamName);
        }
        var cagrad = new CAGrad();
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => cagrad.Weights(new double[2, 3])).Message);
        Assert.Contains("not symmetric", Assert.Throws<ArgumentException>(() => cagrad.Weights(new[,] { { 1.0, 0.5 }, { 0.0, 1.0 } })).Message);
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => cagrad.Weights(new[,] { { double.NaN } })).Message);
        Assert.Throws<ArgumentNullException>(() => cagrad.Weights((double[,])null!));
        using var scope = NewDisposeScope();
        Assert.Contains("2-D", Assert.Throws<ArgumentException>(() => cagrad.Aggregate(ones(3))).Message);
    }
}
