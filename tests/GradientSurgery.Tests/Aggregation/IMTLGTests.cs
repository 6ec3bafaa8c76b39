using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class IMTLGTests
{
    private static Tensor Adversarial(string name) => TestJacobians.Adversarial(name, seed: 17, wideTasks: 4);

    public static TheoryData<string> AdversarialNames => new([.. AdversarialCaseNames, "manyMoreTasksThanParameters"]);

    /// <summary>The closed form of the paper, computed directly with a matrix inverse.</summary>
    private static double[] PaperWeights(Tensor jacobian)
    {
        using var scope = NewDisposeScope();
        var taskCount = (int)jacobian.shape[0];
        var units = jacobian / (jacobian * jacobian).sum(1, keepdim: true).sqrt();
        var d = jacobian[0].unsqueeze(0) - jacobian.narrow(0, 1, taskCount - 1);
        var u = units[0].unsqueeze(0) - units.narrow(0, 1, taskCount - 1);
        var rest = matmul(matmul(jacobian[0].unsqueeze(0), u.t()), linalg.inv(matmul(d, u.t()))).squeeze(0);
        var alpha = rest.data<double>().ToArray();
        return [1.0 - alpha.Sum(), .. alpha];
    }

    private static (double[] Weights, Tensor Update) Run(Tensor jacobian)
    {
        var weights = new IMTLG().Weights(Jacobian.Gramian(jacobian));
        return (weights, Jacobian.Combine(jacobian, weights));
    }

    /// <summary>d·u_i is the same for every non-zero g_i, to rounding relative to Σ|w_i|‖g_i‖.</summary>
    private static void AssertEqualProjections(Tensor jacobian, Tensor update, double[] weights)
    {
        using var scope = NewDisposeScope();
        var norms = (jacobian * jacobian).sum(1).sqrt().data<double>().ToArray();
        var dots = jacobian.mv(update).data<double>().ToArray();
        var projections = Enumerable.Range(0, norms.Length).Where(i => norms[i] > 0).Select(i => dots[i] / norms[i]).ToArray();
        if (projections.Length == 0)
        {
            return;
        }
        var scale = weights.Select((w, i) => Math.Abs(w) * norms[i]).Sum();
        var spread = projections.Max() - projections.Min();
        Assert.True(spread <= 1e-9 * scale, $"projections {string.Join(", ", projections)} differ by {spread} (scale {scale})");
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(5, 3)]
    [InlineData(10, 4)]
    [InlineData(30, 5)]
    public void UpdateHasEqualProjectionsOnEveryUnitGradientAndWeightsSumToOne(int tasks, long seed)
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(tasks, 40, seed);
        var (weights, update) = Run(jacobian);
        Assert.Equal(1.0, weights.Sum(), 12);
        AssertEqualProjections(jacobian, update, weights);
        Assert.True(jacobian.mv(update).abs().sum().item<double>() > 0, "independent gradients give a non-zero update");
    }

    [Theory]
    [InlineData(2, 6)]
    [InlineData(3, 7)]
    [InlineData(6, 8)]
    public void MatchesThePapersClosedFormOnIndependentGradients(int tasks, long seed)
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(tasks, 12, seed);
        var expected = PaperWeights(jacobian);
        var (weights, _) = Run(jacobian);
        for (var i = 0; i < tasks; i++)
        {
            Assert.Equal(expected[i], weights[i], 1e-10);
        }
    }

    [Theory]
    [InlineData("opposite")]
    [InlineData("oppositeScaled")]
    [InlineData("moreTasksThanParameters")]
    [InlineData("sumOfOthers")]
    [InlineData("magnitudes")]
    public void MatchesThePapersClosedFormWhereverItIsDefined(string name)
    {
        // In these cases D Uᵀ is invertible although some are rank deficient: the paper's solution then has equal
        // projections of zero (a zero update) with weights that still sum to 1.
        using var scope = NewDisposeScope();
        var jacobian = Adversarial(name);
        var expected = PaperWeights(jacobian);
        var (weights, update) = Run(jacobian);
        var scale = expected.Max(Math.Abs);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - weights[i]) <= 1e-8 * scale, $"weight {i}: {weights[i]} vs the paper's {expected[i]}");
        }
        if (name != "magnitudes")
        {
            var size = jacobian.abs().sum().item<double>() * weights.Sum(Math.Abs);
            Assert.True(update.abs().max().item<double>() <= 1e-10 * size, $"{name}: expected a zero update, got {update.abs().max().item<double>()}");
        }
    }

    [Theory]
    [MemberData(nameof(AdversarialNames))]
    public void AdversarialInputsGiveFiniteWeightsWithEqualProjections(string name)
    {
        using var scope = NewDisposeScope();
        var jacobian = Adversarial(name);
        var (weights, update) = Run(jacobian);
        Assert.All(weights, w => Assert.True(double.IsFinite(w)));
        Assert.True(isfinite(update).all().item<bool>());
        AssertEqualProjections(jacobian, update, weights);
        Assert.Equal(name == "allZero" ? 0.0 : 1.0, weights.Sum(), 12);
    }

    [Fact]
    public void TwoTaskWorkedExample()
    {
        // g1 = (3, 4), g2 = (2, 0): u1 = (0.6, 0.8), u2 = (1, 0). With d = a g1 + b g2 = (3a + 2b, 4a), a + b = 1:
        // d·u1 = 5a + 1.2b and d·u2 = 3a + 2b are equal when 2a = 0.8b, so a = 2/7, b = 5/7, d = (16/7, 8/7)
        // and both projections are 16/7. The paper's formula agrees: D = g1 − g2 = (1, 4), U = u1 − u2 = (−0.4, 0.8),
        // α2 = g1·U / D·U = 2/2.8 = 5/7.
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 3.0, 4.0 }, { 2.0, 0.0 } });
        var (weights, update) = Run(jacobian);
        Assert.Equal(2.0 / 7.0, weights[0], 14);
        Assert.Equal(5.0 / 7.0, weights[1], 14);
        Assert.True(update.allclose(tensor(new[] { 16.0 / 7.0, 8.0 / 7.0 }), rtol: 0, atol: 1e-14));
        Assert.True(new IMTLG().Aggregate(jacobian).allclose(update, rtol: 0, atol: 1e-15));
    }

    [Fact]
    public void OrthogonalGradientsAreWeightedByTheirInverseNorms()
    {
        // Orthogonal g_i = n_i e_i: d·u_i = α_i n_i must be equal, so α_i ∝ 1/n_i. Norms 1, 2, 4 give
        // α = (1, 1/2, 1/4)/(7/4) = (4/7, 2/7, 1/7) and d = (4/7, 4/7, 4/7).
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1.0, 0.0, 0.0 }, { 0.0, 2.0, 0.0 }, { 0.0, 0.0, 4.0 } });
        var (weights, update) = Run(jacobian);
        Assert.Equal(4.0 / 7.0, weights[0], 14);
        Assert.Equal(2.0 / 7.0, weights[1], 14);
        Assert.Equal(1.0 / 7.0, weights[2], 14);
        Assert.True(update.allclose(full(3, 4.0 / 7.0, dtype: ScalarType.Float64), rtol: 0, atol: 1e-14));
    }

    [Fact]
    public void IdenticalAndParallelGradientsUseTheMinimumNormChoice()
    {
        // D Uᵀ is singular: u1 = u2. γ = C⁺1 = (½, ½) on the unit vectors, α_i ∝ γ_i/‖g_i‖, normalised.
        using var scope = NewDisposeScope();
        var g = tensor(new[] { 1.0, -2.0, 2.0 });

        var (identical, identicalUpdate) = Run(stack([g, g]));
        Assert.Equal(0.5, identical[0], 15);
        Assert.Equal(0.5, identical[1], 15);
        Assert.True(identicalUpdate.allclose(g, rtol: 0, atol: 1e-15));

        // g and 2g: α ∝ (½/3, ½/6) → (2/3, 1/3), d = 2/3 g + 2/3 g = 4/3 g.
        var (parallel, parallelUpdate) = Run(stack([g, 2 * g]));
        Assert.Equal(2.0 / 3.0, parallel[0], 14);
        Assert.Equal(1.0 / 3.0, parallel[1], 14);
        Assert.True(parallelUpdate.allclose(4.0 / 3.0 * g, rtol: 0, atol: 1e-14));
    }

    [Fact]
    public void OppositeGradientsGiveAZeroUpdateWithThePapersWeights()
    {
        // g and −2g: D = 3g, U = 2u, α2 = g·2u / (3g·2u) = 1/3, α1 = 2/3; d = 2/3 g − 2/3 g = 0.
        using var scope = NewDisposeScope();
        var g = tensor(new[] { 1.0, -2.0, 2.0 });
        var (weights, update) = Run(stack([g, -2 * g]));
        Assert.Equal(2.0 / 3.0, weights[0], 14);
        Assert.Equal(1.0 / 3.0, weights[1], 14);
        Assert.True(update.abs().max().item<double>() <= 1e-15);
    }

    [Fact]
    public void ZeroGradientTakesNoPart()
    {
        using var scope = NewDisposeScope();
        var jacobian = Adversarial("zeroRow");
        var (weights, update) = Run(jacobian);
        var (without, withoutUpdate) = Run(jacobian.index_select(0, tensor(new long[] { 0, 2 })));
        Assert.Equal(0.0, weights[1]);
        Assert.Equal(without[0], weights[0], 14);
        Assert.Equal(without[1], weights[2], 14);
        Assert.True(update.allclose(withoutUpdate, rtol: 0, atol: 1e-14));
    }

    [Fact]
    public void SingleTaskAndAllZeroGradients()
    {
        using var scope = NewDisposeScope();
        var single = RandomJacobian(1, 5, seed: 1);
        Assert.Equal(new[] { 1.0 }, new IMTLG().Weights(Jacobian.Gramian(single)));
        Assert.True(new IMTLG().Aggregate(single).equal(single[0]).all().item<bool>());
        Assert.Equal(new[] { 0.0, 0.0 }, new IMTLG().Weights(new double[2, 2]));
    }

    [Fact]
    public void DirectionDoesNotDependOnTheScaleOfEachLoss()
    {
        // Scaling one task's loss scales its gradient but not its unit vector, so the update keeps its direction.
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(4, 20, seed: 9);
        var (_, update) = Run(jacobian);
        var scaled = jacobian * tensor(new[] { 1.0, 1e3, 1e-4, 7.0 }).unsqueeze(1);
        var (_, scaledUpdate) = Run(scaled);
        var cosine = update.dot(scaledUpdate).item<double>() / Math.Sqrt(update.dot(update).item<double>() * scaledUpdate.dot(scaledUpdate).item<double>());
        Assert.Equal(1.0, cosine, 12);
    }

    [Fact]
    public void KeepsTheJacobiansDtype()
    {
        using var scope = NewDisposeScope();
        AssertKeepsTheJacobiansDtype(() => new IMTLG(), RandomJacobian(3, 30, seed: 2));
    }

    [Fact]
    public void RejectsBadArguments()
    {
        using var scope = NewDisposeScope();
        var imtlg = new IMTLG();
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => imtlg.Weights(new double[2, 3])).Message);
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => imtlg.Weights(new[,] { { double.NaN } })).Message);
        Assert.Contains("negative", Assert.Throws<ArgumentException>(() => imtlg.Weights(new[,] { { -1.0 } })).Message);
        Assert.Contains("symmetric", Assert.Throws<ArgumentException>(() => imtlg.Weights(new[,] { { 1.0, 0.2 }, { 0.3, 1.0 } })).Message);
        Assert.Throws<ArgumentNullException>(() => imtlg.Weights((double[,])null!));
        Assert.Contains("2-D", Assert.Throws<ArgumentException>(() => imtlg.Aggregate(ones(4))).Message);
    }
}
