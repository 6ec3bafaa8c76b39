using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class MGDATests
{
    [Fact]
    public void WeightsMeetTheKktConditionsOnRandomAndAdversarialJacobians()
    {
        foreach (var (name, jacobian) in TestJacobians.RandomCases(80, 1).Concat(TestJacobians.AdversarialCases()))
        {
            using var scope = NewDisposeScope();
            var gramian = Jacobian.Gramian(jacobian);
            var alpha = new MGDA().Weights(gramian);
            Assert.All(alpha, a => Assert.True(a >= 0, name));
            Assert.Equal(1.0, alpha.Sum(), 1e-14);
            Assert.True(MGDA.KktResidual(gramian, alpha) <= MGDA.Tolerance, $"{name}: residual {MGDA.KktResidual(gramian, alpha)}");
        }
    }

    [Fact]
    public void TheUpdateIsACommonDescentDirectionOrZero()
    {
        // Gα ≥ λ1 means g_j · d ≥ ‖d‖² for every task: d decreases every loss unless d = 0.
        foreach (var (name, jacobian) in TestJacobians.RandomCases(40, 2).Concat(TestJacobians.AdversarialCases()))
        {
            using var scope = NewDisposeScope();
            var d = new MGDA().Aggregate(jacobian);
            var squaredNorm = d.dot(d).item<double>();
            var dots = jacobian.mv(d).data<double>().ToArray();
            var norms = jacobian.pow(2).sum(1).sqrt().data<double>().ToArray();
            var largest = norms.Max();
            for (var j = 0; j < dots.Length; j++)
            {
                Assert.True(dots[j] >= squaredNorm - 1e-10 * (norms[j] + largest) * largest, $"{name}: g_{j}·d = {dots[j]} < ‖d‖² = {squaredNorm}");
            }
        }
    }

    [Fact]
    public void TwoTasksMatchTheClosedFormOfAlgorithm1()
    {
        var random = new Random(3);
        for (var trial = 0; trial < 300; trial++)
        {
            using var scope = NewDisposeScope();
            var g1 = TestJacobians.RandomJacobian(1, 4, 300 + trial)[0];
            // Scaled copies and near-copies of g1 reach both clipped branches and the interior.
            var g2 = (trial % 3) switch
            {
                0 => TestJacobians.RandomJacobian(1, 4, 900 + trial)[0],
                1 => g1 * (0.1 + 3 * random.NextDouble()) + 0.2 * TestJacobians.RandomJacobian(1, 4, 900 + trial)[0],
                _ => -g1 * random.NextDouble() + TestJacobians.RandomJacobian(1, 4, 900 + trial)[0],
            };
            var difference = g1 - g2;
            var closedForm = Math.Clamp((g2 - g1).dot(g2).item<double>() / difference.dot(difference).item<double>(), 0, 1);
            var alpha = new MGDA().Weights(Jacobian.Gramian(stack([g1, g2])));
            Assert.True(Math.Abs(alpha[0] - closedForm) <= 1e-12, $"trial {trial}: α₁ = {alpha[0]}, closed form {closedForm}");
            Assert.Equal(1 - alpha[0], alpha[1], 1e-14);
        }
    }

    [Fact]
    public void SmallExamplesWorkedByHand()
    {
        using var scope = NewDisposeScope();
        // g₁ = (1, 0), g₂ = (0, 2): α₁ = (g₂ − g₁)·g₂ / ‖g₁ − g₂‖² = (−1, 2)·(0, 2) / 5 = 4/5,
        // d = (4/5)g₁ + (1/5)g₂ = (0.8, 0.4); check Gα = (0.8, 0.8) = λ = ‖d‖² = 0.64 + 0.16.
        var twoTasks = tensor(new[,] { { 1.0, 0.0 }, { 0.0, 2.0 } });
        AssertClose([0.8, 0.2], new MGDA().Weights(Jacobian.Gramian(twoTasks)), 1e-15);
        AssertClose([0.8, 0.4], new MGDA().Aggregate(twoTasks).data<double>().ToArray(), 1e-15);

        // g₁ = e₁, g₂ = 2e₂, g₃ = 3e₃ (orthogonal): Gα = λ1 gives α_i ∝ 1/‖g_i‖² = (1, 1/4, 1/9), i.e.
        // α = (36, 9, 4)/49, d = (36, 18, 12)/49, and λ = Gα = 36/49 in every coordinate.
        var orthogonal = tensor(new[,] { { 1.0, 0.0, 0.0 }, { 0.0, 2.0, 0.0 }, { 0.0, 0.0, 3.0 } });
        AssertClose([36 / 49.0, 9 / 49.0, 4 / 49.0], new MGDA().Weights(Jacobian.Gramian(orthogonal)), 1e-15);
        AssertClose([36 / 49.0, 18 / 49.0, 12 / 49.0], new MGDA().Aggregate(orthogonal).data<double>().ToArray(), 1e-15);

        // g₁ = (1, 0), g₂ = (0, 1), g₃ = (1, 1): the hull's nearest point to 0 is the midpoint of g₁g₂,
        // d = (1/2, 1/2); g₃·d = 1 ≥ λ = 1/2, so α = (1/2, 1/2, 0).
        var three = tensor(new[,] { { 1.0, 0.0 }, { 0.0, 1.0 }, { 1.0, 1.0 } });
        AssertClose([0.5, 0.5, 0.0], new MGDA().Weights(Jacobian.Gramian(three)), 1e-15);
    }

    [Fact]
    public void AdversarialInputsGiveTheExpectedUpdates()
    {
        using var scope = NewDisposeScope();
        var g = TestJacobians.RandomJacobian(1, 5, 7);
        var size = g.norm().item<double>();

        Assert.Equal(new[] { 1.0 }, new MGDA().Weights(Jacobian.Gramian(g)));
        Assert.True(new MGDA().Aggregate(cat([g, g, g])).allclose(g[0], rtol: 0, atol: 1e-15 * size));
        // Opposite gradients: 0 is in the hull (Pareto-stationary), at α = (1/2, 1/2) and, for −1000g, at
        // α = (1000, 1)/1001.
        Assert.True(new MGDA().Aggregate(cat([g, -g])).norm().item<double>() <= 1e-15 * size);
        AssertClose([1000 / 1001.0, 1 / 1001.0], new MGDA().Weights(Jacobian.Gramian(cat([g, -1000 * g]))), 1e-13);
        // A zero gradient is the hull's nearest point to 0.
        var withZero = cat([TestJacobians.RandomJacobian(2, 5, 8), zeros(1, 5, dtype: ScalarType.Float64)]);
        Assert.Equal(new[] { 0.0, 0.0, 1.0 }, new MGDA().Weights(Jacobian.Gramian(withZero)));
        Assert.True(new MGDA().Aggregate(withZero).eq(0).all().item<bool>());
        // All gradients zero: every α is optimal; the uniform weights are returned and the update is zero.
        Assert.Equal(new[] { 0.25, 0.25, 0.25, 0.25 }, new MGDA().Weights(new double[4, 4]));
        // Norms 10⁶ apart, orthogonal: α = (1, 10¹²)/(1 + 10¹²) exactly as in the worked example above.
        var far = tensor(new[,] { { 1e6, 0.0 }, { 0.0, 1.0 } });
        var alpha = new MGDA().Weights(Jacobian.Gramian(far));
        Assert.Equal(1 / (1 + 1e12), alpha[0], 1e-24);
        Assert.Equal(1e12 / (1 + 1e12), alpha[1], 1e-15);
    }

    [Fact]
    public void MinNormWeightsIsTheUnnormalisedWeighting()
    {
        using var scope = NewDisposeScope();
        var gramian = Jacobian.Gramian(TestJacobians.RandomJacobian(6, 4, 9));
        Assert.Equal(new MGDA().Weights(gramian), MGDA.MinNormWeights(gramian));
        Assert.True(MGDA.KktResidual(gramian, MGDA.MinNormWeights(gramian)) <= MGDA.Tolerance);
    }

    [Fact]
    public void TheKktResidualDetectsWrongWeights()
    {
        var gramian = new[,] { { 1.0, 0.0 }, { 0.0, 4.0 } };
        Assert.True(MGDA.KktResidual(gramian, [0.8, 0.2]) <= 1e-15);
        Assert.True(MGDA.KktResidual(gramian, [0.79, 0.21]) > 1e-3);
        Assert.True(MGDA.KktResidual(gramian, [0.5, 0.5]) > 0.1);
        Assert.Equal(double.PositiveInfinity, MGDA.KktResidual(gramian, [1.2, -0.2]));
    }

    [Fact]
    public void NormalisationRescalesTheGradientsOnlyToComputeTheWeights()
    {
        using var scope = NewDisposeScope();
        // g₁ = (2, 0), g₂ = (0, 1). Without normalisation α ∝ (1/4, 1) = (0.2, 0.8), d = (0.4, 0.8).
        var jacobian = tensor(new[,] { { 2.0, 0.0 }, { 0.0, 1.0 } });
        var gramian = Jacobian.Gramian(jacobian);
        AssertClose([0.2, 0.8], new MGDA().Weights(gramian), 1e-15);
        // "l2": g/‖g‖ = e₁, e₂, so α = (1/2, 1/2), and the update uses the original gradients: (1, 1/2).
        AssertClose([0.5, 0.5], new MGDA(MGDA.GradientNormalization.L2).Weights(gramian), 1e-15);
        AssertClose([1.0, 0.5], new MGDA(MGDA.GradientNormalization.L2).Aggregate(jacobian).data<double>().ToArray(), 1e-15);
        // "loss" with L = (2, 1): g/L = e₁, e₂ again, so α = (1/2, 1/2).
        AssertClose([0.5, 0.5], new MGDA(MGDA.GradientNormalization.Loss).Weights(gramian, [2.0, 1.0]), 1e-15);
        AssertClose([1.0, 0.5], new MGDA(MGDA.GradientNormalization.Loss).Aggregate(jacobian, [2.0, 1.0]).data<double>().ToArray(), 1e-15);
        // "loss+" with L = (3, 5): g/(L‖g‖) = e₁/3, e₂/5, α ∝ (9, 25), so α = (9, 25)/34 and d = (18, 25)/34.
        AssertClose([9 / 34.0, 25 / 34.0], new MGDA(MGDA.GradientNormalization.LossPlus).Weights(gramian, [3.0, 5.0]), 1e-15);
        AssertClose([18 / 34.0, 25 / 34.0],
            new MGDA(MGDA.GradientNormalization.LossPlus).Aggregate(jacobian, [3.0, 5.0]).data<double>().ToArray(), 1e-15);
        // A zero normaliser makes that task's normalised gradient zero: all weight goes to it.
        Assert.Equal(new[] { 0.0, 1.0 }, new MGDA(MGDA.GradientNormalization.Loss).Weights(gramian, [2.0, 0.0]));
        Assert.Equal(new[] { 1.0, 0.0 }, new MGDA(MGDA.GradientNormalization.L2).Weights(new[,] { { 0.0, 0.0 }, { 0.0, 1.0 } }));
        // Losses are ignored when the normalisation does not use them.
        Assert.Equal(new MGDA().Weights(gramian), new MGDA().Weights(gramian, [-1.0, double.NaN]));
    }

    [Fact]
    public void LossNormalisationsRequireValidLosses()
    {
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 2.0, 0.0 }, { 0.0, 1.0 } });
        var gramian = Jacobian.Gramian(jacobian);
        var loss = new MGDA(MGDA.GradientNormalization.Loss);
        Assert.True(loss.NeedsLosses);
        Assert.False(new MGDA(MGDA.GradientNormalization.L2).NeedsLosses);
        Assert.Contains("losses", Assert.Throws<InvalidOperationException>(() => loss.Weights(gramian)).Message);
        Assert.Contains("losses", Assert.Throws<InvalidOperationException>(() => loss.Aggregate(jacobian)).Message);
        Assert.Throws<ArgumentNullException>(() => loss.Weights(gramian, null));
        Assert.Contains("2 losses", Assert.Throws<ArgumentException>(() => loss.Weights(gramian, [1.0])).Message);
        Assert.Contains("Loss 1", Assert.Throws<ArgumentOutOfRangeException>(() => loss.Weights(gramian, [1.0, -0.5])).Message);
        Assert.Contains("Loss 0", Assert.Throws<ArgumentOutOfRangeException>(
            () => new MGDA(MGDA.GradientNormalization.LossPlus).Weights(gramian, [double.PositiveInfinity, 1.0])).Message);
    }

    [Fact]
    public void RejectsBadArguments()
    {
        using var scope = NewDisposeScope();
        var mgda = new MGDA();
        Assert.Throws<ArgumentOutOfRangeException>(() => new MGDA((MGDA.GradientNormalization)7));
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => mgda.Weights(new double[2, 3])).Message);
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => mgda.Weights(new double[0, 0])).Message);
        Assert.Throws<ArgumentNullException>(() => mgda.Weights((double[,])null!));
        Assert.Contains("[0, 1]", Assert.Throws<ArgumentException>(() => mgda.Weights(new[,] { { 1.0, double.NaN }, { 0.0, 1.0 } })).Message);
        Assert.Contains("negative", Assert.Throws<ArgumentException>(() => mgda.Weights(new[,] { { 1.0, 0.0 }, { 0.0, -1.0 } })).Message);
        Assert.Contains("not symmetric", Assert.Throws<ArgumentException>(() => mgda.Weights(new[,] { { 1.0, 0.5 }, { 0.0, 1.0 } })).Message);
        Assert.Contains("positive semi-definite", Assert.Throws<ArgumentException>(() => mgda.Weights(new[,] { { 1.0, 2.0 }, { 2.0, 1.0 } })).Message);
        Assert.Contains("2-D", Assert.Throws<ArgumentException>(() => mgda.Aggregate(ones(3))).Message);
        Assert.Contains("Expected 2 weights", Assert.Throws<ArgumentException>(() => MGDA.KktResidual(new double[2, 2], [1.0])).Message);
    }

    [Fact]
    public void KeepsTheJacobiansDtype()
    {
        using var scope = NewDisposeScope();
        AssertKeepsTheJacobiansDtype(() => new MGDA(), RandomJacobian(4, 30, 10), atol: 1e-5);
    }

    private static void AssertClose(double[] expected, double[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"[{i}]: expected {expected[i]}, got {actual[i]}");
        }
    }
}
