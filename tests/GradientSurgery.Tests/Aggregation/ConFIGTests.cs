using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class ConFIGTests
{
    private static Tensor Adversarial(string name) => TestJacobians.Adversarial(name, seed: 23, wideTasks: 4);

    /// <summary>Eq. 2 computed directly on the P-dimensional vectors, as the official code does (with pinv).</summary>
    private static Tensor PaperUpdate(Tensor jacobian)
    {
        using var scope = NewDisposeScope();
        var units = nan_to_num(jacobian / (jacobian * jacobian).sum(1, keepdim: true).sqrt(), 0.0);
        var direction = matmul(linalg.pinv(units), ones(jacobian.shape[0], dtype: jacobian.dtype));
        var unit = direction / direction.dot(direction).sqrt();
        return scope.MoveToOuter(jacobian.mv(unit).sum() * unit);
    }

    private static double[] Cosines(Tensor jacobian, Tensor update)
    {
        using var scope = NewDisposeScope();
        var norms = (jacobian * jacobian).sum(1).sqrt();
        var cosines = jacobian.mv(update) / (norms * update.dot(update).sqrt());
        var all = cosines.data<double>().ToArray();
        var nonZero = norms.data<double>().ToArray();
        return all.Where((_, i) => nonZero[i] > 0).ToArray();
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    [InlineData(5, 4)]
    [InlineData(10, 5)]
    [InlineData(30, 6)]
    public void UpdateHasTheSamePositiveCosineWithEveryGradient(int tasks, long seed)
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(tasks, 40, seed);
        var cosines = Cosines(jacobian, new ConFIG().Aggregate(jacobian));
        Assert.True(cosines.Min() > 0, $"cosines {string.Join(", ", cosines)}");
        Assert.True(cosines.Max() - cosines.Min() <= 1e-10, $"cosines {string.Join(", ", cosines)}");
    }

    [Theory]
    [InlineData(2, 7)]
    [InlineData(4, 8)]
    [InlineData(8, 9)]
    public void MatchesEquationTwoComputedOnTheVectors(int tasks, long seed)
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(tasks, 15, seed);
        var update = new ConFIG().Aggregate(jacobian);
        var expected = PaperUpdate(jacobian);
        Assert.True(update.allclose(expected, rtol: 1e-10, atol: 1e-12), $"max difference {(update - expected).abs().max().item<double>()}");
    }

    [Theory]
    [InlineData("single")]
    [InlineData("identical")]
    [InlineData("parallel")]
    [InlineData("moreTasksThanParameters")]
    [InlineData("sumOfOthers")]
    [InlineData("zeroRow")]
    [InlineData("magnitudes")]
    public void MatchesEquationTwoOnAdversarialInputs(string name)
    {
        // With dependent gradients the pseudo-inverse gives the least-squares direction; a zero gradient is a zero row.
        using var scope = NewDisposeScope();
        var jacobian = Adversarial(name);
        var update = new ConFIG().Aggregate(jacobian);
        var expected = PaperUpdate(jacobian);
        var size = expected.abs().max().item<double>();
        Assert.True(update.allclose(expected, rtol: 1e-9, atol: 1e-12 * size), $"max difference {(update - expected).abs().max().item<double>()}");
    }

    [Theory]
    [MemberData(nameof(AdversarialNames), MemberType = typeof(TestJacobians))]
    public void AdversarialInputsGiveFiniteUpdates(string name)
    {
        using var scope = NewDisposeScope();
        var jacobian = Adversarial(name);
        var weights = new ConFIG().Weights(Jacobian.Gramian(jacobian));
        Assert.All(weights, w => Assert.True(double.IsFinite(w)));
        var update = Jacobian.Combine(jacobian, weights);
        Assert.True(isfinite(update).all().item<bool>());
        if (name is "single" or "identical" or "parallel" or "zeroRow" or "magnitudes")
        {
            // Independent directions (up to repeats): equal positive cosines.
            var cosines = Cosines(jacobian, update);
            Assert.True(cosines.Min() > 0 && cosines.Max() - cosines.Min() <= 1e-9, $"{name}: cosines {string.Join(", ", cosines)}");
        }
    }

    [Fact]
    public void TwoOrthogonalGradientsWorkedExample()
    {
        // u1 = (1, 0), u2 = (0, 1): the pseudo-inverse solution of u_i·x = 1 is x = (1, 1), g_u = (1, 1)/√2.
        // Length Σ g_i·g_u = 1/√2 + 2/√2 = 3/√2, so g_ConFIG = (3/√2)(1, 1)/√2 = (1.5, 1.5) = 1.5 g1 + 0.75 g2.
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1.0, 0.0 }, { 0.0, 2.0 } });
        var weights = new ConFIG().Weights(Jacobian.Gramian(jacobian));
        Assert.Equal(1.5, weights[0], 14);
        Assert.Equal(0.75, weights[1], 14);
        Assert.True(new ConFIG().Aggregate(jacobian).allclose(tensor(new[] { 1.5, 1.5 }), rtol: 0, atol: 1e-14));
    }

    [Fact]
    public void TwoConflictingGradientsWorkedExample()
    {
        // g1 = (1, 0), g2 = (−1, 1) (cosine −1/√2). u1·x = 1 gives x1 = 1; u2·x = (−1 + x2)/√2 = 1 gives x2 = 1 + √2.
        // ‖x‖² = 4 + 2√2, and (g1 + g2)·x = 1 + √2, so g_ConFIG = (1 + √2)/(4 + 2√2) x = x/(2√2)
        // = (0.35355…, 0.85355…), whose cosine with each gradient is 0.3535…/‖g_ConFIG‖ > 0.
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1.0, 0.0 }, { -1.0, 1.0 } });
        var update = new ConFIG().Aggregate(jacobian);
        var root2 = Math.Sqrt(2.0);
        Assert.True(update.allclose(tensor(new[] { 1.0 / (2 * root2), (1 + root2) / (2 * root2) }), rtol: 0, atol: 1e-14));
    }

    [Fact]
    public void IdenticalAndParallelGradientsAreSummed()
    {
        // Every unit vector is u, so g_u = u and the length is Σ‖g_i‖: g, g → 2g and g, 2g → 3g.
        using var scope = NewDisposeScope();
        var g = tensor(new[] { 1.0, -2.0, 2.0 });
        Assert.True(new ConFIG().Aggregate(stack([g, g])).allclose(2 * g, rtol: 0, atol: 1e-14));
        Assert.True(new ConFIG().Aggregate(stack([g, 2 * g])).allclose(3 * g, rtol: 0, atol: 1e-14));
    }

    [Fact]
    public void GradientsWhoseUnitVectorsCancelGiveAZeroUpdate()
    {
        // u1 + u2 = 0 (and three unit vectors at 120°) put 1 in the null space of C: the pseudo-inverse solution is 0.
        using var scope = NewDisposeScope();
        var g = tensor(new[] { 1.0, -2.0, 2.0 });
        Assert.Equal(new[] { 0.0, 0.0 }, new ConFIG().Weights(Jacobian.Gramian(stack([g, -5 * g]))));
        var s = Math.Sqrt(3.0) / 2;
        var star = tensor(new[,] { { 1.0, 0.0 }, { -0.5, s }, { -0.5, -s } }) * tensor(new[] { 1.0, 2.0, 3.0 }).unsqueeze(1);
        Assert.Equal(new[] { 0.0, 0.0, 0.0 }, new ConFIG().Weights(Jacobian.Gramian(star)));
        Assert.Equal(new[] { 0.0, 0.0, 0.0 }, new ConFIG().Weights(new double[3, 3]));
    }

    [Fact]
    public void ZeroGradientTakesNoPart()
    {
        using var scope = NewDisposeScope();
        var jacobian = Adversarial("zeroRow");
        var weights = new ConFIG().Weights(Jacobian.Gramian(jacobian));
        var without = new ConFIG().Weights(Jacobian.Gramian(jacobian.index_select(0, tensor(new long[] { 0, 2 }))));
        Assert.Equal(0.0, weights[1]);
        Assert.Equal(without[0], weights[0], 14);
        Assert.Equal(without[1], weights[2], 14);
    }

    [Fact]
    public void SingleTaskReturnsItsGradient()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(1, 7, seed: 3);
        Assert.True(new ConFIG().Aggregate(jacobian).allclose(jacobian[0], rtol: 1e-15, atol: 0));
    }

    [Fact]
    public void ACoarserToleranceDropsNearlyDependentDirections()
    {
        // Three gradients almost in a plane: C's smallest eigenvalue is about 10⁻⁶ of the largest. The exact
        // pseudo-inverse keeps it (equal cosines); a tolerance of 10⁻³ drops it, and the cosines then differ.
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1.0, 0.0, 0.0 }, { 0.0, 1.0, 0.0 }, { 1.0, 1.0, 2e-3 } });
        var exact = Cosines(jacobian, new ConFIG().Aggregate(jacobian));
        Assert.True(exact.Max() - exact.Min() <= 1e-9);
        var truncated = Cosines(jacobian, new ConFIG(relativeTolerance: 1e-3).Aggregate(jacobian));
        Assert.True(truncated.Max() - truncated.Min() > 1e-3);
        Assert.All(truncated, c => Assert.True(c > 0));
    }

    [Fact]
    public void KeepsTheJacobiansDtype()
    {
        using var scope = NewDisposeScope();
        AssertKeepsTheJacobiansDtype(() => new ConFIG(), RandomJacobian(3, 30, seed: 2));
    }

    [Theory]
    [InlineData(-1e-3)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void RejectsAToleranceOutsideTheUnitInterval(double tolerance)
    {
        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => new ConFIG(tolerance));
        Assert.Equal("relativeTolerance", exception.ParamName);
    }

    [Fact]
    public void RejectsBadGramiansAndJacobians()
    {
        using var scope = NewDisposeScope();
        var config = new ConFIG();
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => config.Weights(new double[3, 2])).Message);
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => config.Weights(new[,] { { double.PositiveInfinity } })).Message);
        Assert.Contains("symmetric", Assert.Throws<ArgumentException>(() => config.Weights(new[,] { { 1.0, 0.2 }, { 0.3, 1.0 } })).Message);
        Assert.Contains("floating-point", Assert.Throws<ArgumentException>(() => config.Aggregate(ones(2, 3, dtype: ScalarType.Int32))).Message);
    }
}
