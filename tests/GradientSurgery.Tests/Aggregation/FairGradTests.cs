using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class FairGradTests
{
    /// <summary>max_i |w_i^(1/α) (Gw)_i − 1| over the tasks with a non-zero gradient.</summary>
    private static double FairnessViolation(double[,] g, double[] w, double alpha)
    {
        var worst = 0.0;
        for (var i = 0; i < w.Length; i++)
        {
            if (g[i, i] == 0)
            {
                continue;
            }
            var row = 0.0;
            for (var j = 0; j < w.Length; j++)
            {
                row += g[i, j] * w[j];
            }
            worst = Math.Max(worst, Math.Abs(Math.Pow(w[i], 1 / alpha) * row - 1));
        }
        return worst;
    }

    /// <summary>
    /// max_i |w_i^(1/α) (Aw)_i − 1| / (w_i^(1/α) Σ_j |A_ij| w_j) with A = G + ρ·diag G: how far the entries of A
    /// must move (relatively) for w to solve the condition exactly.
    /// </summary>
    private static double BackwardError(double[,] g, double[] w, double alpha, double ridge)
    {
        var worst = 0.0;
        for (var i = 0; i < w.Length; i++)
        {
            double row = 0, magnitude = 0;
            for (var j = 0; j < w.Length; j++)
            {
                var a = i == j ? g[i, j] * (1 + ridge) : g[i, j];
                row += a * w[j];
                magnitude += Math.Abs(a) * w[j];
            }
            var power = Math.Pow(w[i], 1 / alpha);
            worst = Math.Max(worst, Math.Abs(power * row - 1) / (power * magnitude));
        }
        return worst;
    }

    /// <summary>Σ_i u_α(g_iᵀd) with u_α(x) = x^(1−α)/(1−α) (ln x for α = 1); −∞ if some task gets worse.</summary>
    private static double Utility(Tensor jacobian, Tensor d, double alpha)
    {
        var sum = 0.0;
        foreach (var x in Values(jacobian.mv(d)))
        {
            if (!(x > 0))
            {
                return double.NegativeInfinity;
            }
            sum += alpha == 1 ? Math.Log(x) : Math.Pow(x, 1 - alpha) / (1 - alpha);
        }
        return sum;
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(2.0)]
    [InlineData(5.0)]
    public void WeightsSatisfyTheFairnessConditionOnRandomJacobians(double alpha)
    {
        using var scope = NewDisposeScope();
        for (var seed = 0; seed < 20; seed++)
        {
            var tasks = 2 + seed % 8;
            var g = Jacobian.Gramian(RandomJacobian(tasks, tasks + 1 + seed % 10, seed));
            var w = new FairGrad(alpha).Weights(g);
            Assert.All(w, x => Assert.True(x > 0));
            Assert.True(FairnessViolation(g, w, alpha) <= 1e-8, $"seed {seed}: {FairnessViolation(g, w, alpha)}");
        }
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(2.0)]
    public void TheUpdateMaximisesTheAlphaFairUtilityOverItsBall(double alpha)
    {
        // The paper's problem: d maximises Σ_i u_α(g_iᵀd) over a ball. The condition makes ∇ = Σ_i (g_iᵀd)^(−α) g_i
        // = Σ_i w_i g_i = d, the outward normal, so d is the maximiser over ‖d'‖ ≤ ‖d‖ (concave utility).
        using var scope = NewDisposeScope();
        for (var seed = 0; seed < 10; seed++)
        {
            var jacobian = RandomJacobian(3, 5, 100 + seed);
            var d = new FairGrad(alpha).Aggregate(jacobian);
            var radius = d.norm().item<double>();
            var best = Utility(jacobian, d, alpha);
            Assert.True(double.IsFinite(best), "every task improves");
            var generator = new Generator((ulong)(200 + seed));
            for (var k = 0; k < 200; k++)
            {
                var direction = d + 0.3 * radius * randn(d.shape, dtype: ScalarType.Float64, generator: generator);
                var candidate = direction * (radius / direction.norm().item<double>());
                Assert.True(Utility(jacobian, candidate, alpha) <= best + 1e-12 * Math.Abs(best), $"seed {seed}, sample {k}");
            }
        }
    }

    [Fact]
    public void AlphaOneIsNashMTL()
    {
        using var scope = NewDisposeScope();
        for (var seed = 0; seed < 10; seed++)
        {
            var g = Jacobian.Gramian(RandomJacobian(2 + seed % 5, 8, seed));
            var fair = new FairGrad(1.0).Weights(g);
            var nash = NashMTL.Solution(g);
            for (var i = 0; i < fair.Length; i++)
            {
                Assert.Equal(nash[i], fair[i], 14);
            }
        }
    }

    [Fact]
    public void WorkedExampleOrthogonalGradients()
    {
        // G = diag(64, 1), α = 2: G_ii w_i = w_i^(−1/2), so w_i = G_ii^(−2/3): w = (1/16, 1), d = (0.5, 1).
        // (The ridge multiplies G_ii by 1 + ρ, hence w by (1 + ρ)^(−2/3), a relative 7e-11.)
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 8.0, 0.0 }, { 0.0, 1.0 } });
        var w = new FairGrad(2.0).Weights(Jacobian.Gramian(jacobian));
        var ridge = Math.Pow(1 + FairGrad.Ridge, -2.0 / 3);
        Assert.Equal(ridge / 16, w[0], 14);
        Assert.Equal(ridge, w[1], 14);
        var update = Values(new FairGrad(2.0).Aggregate(jacobian));
        Assert.Equal(0.5, update[0], 9);
        Assert.Equal(1.0, update[1], 9);
    }

    [Fact]
    public void WorkedExampleIdenticalGradients()
    {
        // Two copies of g = (2, 0), α = 2: Gw = 4(w_1 + w_2)1 = w^(−1/2), so w_i = 8^(−2/3) = 1/4 and d = (1, 0).
        // (With the ridge, 4(2 + ρ)w = w^(−1/2): w_i = (8 + 4ρ)^(−2/3).)
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 2.0, 0.0 }, { 2.0, 0.0 } });
        var expected = Math.Pow(8 + 4 * FairGrad.Ridge, -2.0 / 3);
        Assert.All(new FairGrad(2.0).Weights(Jacobian.Gramian(jacobian)), x => Assert.Equal(expected, x, 14));
        Assert.Equal(0.25, expected, 10);
        var update = Values(new FairGrad(2.0).Aggregate(jacobian));
        Assert.Equal(1.0, update[0], 10);
        Assert.Equal(0.0, update[1]);
    }

    [Fact]
    public void LargerAlphaEqualisesTheImprovements()
    {
        // g_iᵀd = w_i^(−1/α): the spread of the tasks' improvements shrinks towards max–min fairness as α grows.
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 4.0, 0.0, 1.0 }, { 0.0, 1.0, 0.5 }, { 1.0, -0.5, 0.2 } });
        var spreads = new[] { 0.5, 1.0, 2.0, 5.0, 20.0 }.Select(alpha =>
        {
            var improvements = Values(jacobian.mv(new FairGrad(alpha).Aggregate(jacobian)));
            return Math.Log(improvements.Max() / improvements.Min());
        }).ToArray();
        for (var k = 1; k < spreads.Length; k++)
        {
            Assert.True(spreads[k] < spreads[k - 1], $"spread {spreads[k]} after {spreads[k - 1]}");
        }
    }

    [Fact]
    public void AdversarialJacobiansStayFinite()
    {
        using var scope = NewDisposeScope();
        foreach (var alpha in new[] { 0.5, 2.0 })
        {
            var fair = new FairGrad(alpha);
            // A zero gradient gets weight 0 and leaves the others as they were.
            var withZero = tensor(new[,] { { 1.0, 2.0 }, { 0.0, 0.0 }, { -1.0, 1.0 } });
            var w = fair.Weights(Jacobian.Gramian(withZero));
            var without = fair.Weights(Jacobian.Gramian(withZero.index_select(0, tensor(new long[] { 0, 2 }))));
            Assert.Equal(0.0, w[1]);
            Assert.Equal(without[0], w[0], 14);
            Assert.Equal(without[1], w[2], 14);
            // Opposite gradients (Pareto stationary): finite weights, the update cancels.
            Assert.Equal(new double[2], Values(fair.Aggregate(tensor(new[,] { { 2.0, -1.0 }, { -2.0, 1.0 } }))));
            // All zero.
            Assert.Equal(new double[3], Values(fair.Aggregate(zeros(2, 3, dtype: ScalarType.Float64))));
            // T = 1: ‖g‖² w = w^(−1/α) gives w = ‖g‖^(−2α/(1+α)) (up to the ridge).
            var single = tensor(new[,] { { 3.0, 4.0 } });
            Assert.Equal(Math.Pow(5, -2 * alpha / (1 + alpha)), fair.Weights(Jacobian.Gramian(single))[0], 9);
            // T > P, 0 in the hull.
            for (var seed = 0; seed < 5; seed++)
            {
                Assert.All(Values(fair.Aggregate(RandomJacobian(6, 2, 600 + seed))), v => Assert.True(double.IsFinite(v)));
            }
            // Norms 1e3, 1 and 1e-3 (a factor 1e6 between the extremes). The solved condition (with the ridge) holds
            // to rounding in the backward sense. The plain condition holds up to the ridge's relative O(ρ) change,
            // amplified where a small task conflicts with a large one and (Gw)_i is a cancellation of larger
            // terms: here 6e-8 for α = 2 and 2e-5 for α = 0.5.
            var scaled = RandomJacobian(3, 6, 700) * tensor(new[] { 1e3, 1.0, 1e-3 }, dtype: ScalarType.Float64).unsqueeze(1);
            var gScaled = Jacobian.Gramian(scaled);
            var wScaled = fair.Weights(gScaled);
            Assert.True(BackwardError(gScaled, wScaled, alpha, FairGrad.Ridge) <= 1e-13, $"alpha {alpha}");
            Assert.True(FairnessViolation(gScaled, wScaled, alpha) <= 1e-4, $"alpha {alpha}");
        }
    }

    [Fact]
    public void KeepsTheJacobiansDtype()
    {
        using var scope = NewDisposeScope();
        AssertKeepsTheJacobiansDtype(() => new FairGrad(2.0), RandomJacobian(4, 20, seed: 7));
    }

    [Fact]
    public void RejectsBadArguments()
    {
        foreach (var alpha in new[] { 0.0, -1.0, double.NaN, double.PositiveInfinity })
        {
            Assert.Equal("alpha", Assert.Throws<ArgumentOutOfRangeException>(() => new FairGrad(alpha)).ParamName);
        }
        var fair = new FairGrad();
        Assert.Equal(1.0, fair.Alpha);
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => fair.Weights(new double[1, 2])).Message);
        Assert.Contains("not symmetric", Assert.Throws<ArgumentException>(() => fair.Weights(new[,] { { 1.0, 2.0 }, { 0.0, 1.0 } })).Message);
        Assert.Throws<ArgumentNullException>(() => fair.Weights((double[,])null!));
    }
}
