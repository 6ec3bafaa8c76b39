using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class GradVacTests
{
    private static Tensor Adversarial(string name) => TestJacobians.Adversarial(name, seed: 31);

    // Relative to the larger of the expected update and the inputs: where the update cancels to 0 (opposite
    // gradients) both methods leave rounding of the inputs' order, which no tolerance relative to 0 admits.
    private static void AssertClose(Tensor expected, Tensor actual, double relative, Tensor jacobian)
    {
        var scale = Math.Max(Math.Max(expected.abs().max().item<double>(), jacobian.abs().max().item<double>()), 1e-300);
        var difference = (expected - actual).abs().max().item<double>();
        Assert.True(difference <= relative * scale, $"max difference {difference} (scale {scale})");
    }

    private static double Cosine(double[,] gramian, double[] coefficients, int j)
    {
        // cos(Σ_k c_k g_k, g_j) from the Gramian alone.
        var n = coefficients.Length;
        var dot = 0.0;
        var squaredNorm = 0.0;
        for (var k = 0; k < n; k++)
        {
            dot += coefficients[k] * gramian[k, j];
            for (var l = 0; l < n; l++)
            {
                squaredNorm += coefficients[k] * gramian[k, l] * coefficients[l];
            }
        }
        return dot / Math.Sqrt(squaredNorm * gramian[j, j]);
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(5, 3)]
    [InlineData(8, 4)]
    [InlineData(20, 5)]
    public void WithZeroTargetsItIsPCGradStepAfterStep(int tasks, long seed)
    {
        using var scope = NewDisposeScope();
        foreach (var reduction in new[] { Reduction.Sum, Reduction.Mean })
        {
            var gradVac = new GradVac(beta: 0.0, initialTarget: 0.0, reduction, seed);
            var pcgrad = new PCGrad(reduction, seed);
            for (var step = 0; step < 3; step++)
            {
                var jacobian = RandomJacobian(tasks, 30, seed * 10 + step);
                AssertClose(pcgrad.Aggregate(jacobian), gradVac.Aggregate(jacobian), 1e-12, jacobian);
            }
        }
    }

    [Theory]
    [MemberData(nameof(AdversarialNames), MemberType = typeof(TestJacobians))]
    public void WithZeroTargetsItIsPCGradOnAdversarialInputs(string name)
    {
        using var scope = NewDisposeScope();
        var jacobian = Adversarial(name);
        var orders = new PCGrad(seed: 5).DrawOrders((int)jacobian.shape[0]);
        var expected = new PCGrad().Aggregate(jacobian, orders);
        var actual = new GradVac(beta: 0.0).Aggregate(jacobian, orders);
        Assert.True(isfinite(actual).all().item<bool>());
        AssertClose(expected, actual, 1e-12, jacobian);
    }

    [Fact]
    public void DrawsTheSameOrdersAsPCGradForTheSameSeed()
    {
        var gradVac = new GradVac(seed: 77);
        var pcgrad = new PCGrad(seed: 77);
        for (var draw = 0; draw < 5; draw++)
        {
            Assert.Equal(pcgrad.DrawOrders(6).SelectMany(o => o), gradVac.DrawOrders(6).SelectMany(o => o));
        }
    }

    [Theory]
    [InlineData(0.5, 0.1)]
    [InlineData(0.9, -0.7)]
    [InlineData(-0.3, -0.8)]
    [InlineData(0.0, -0.999)]
    public void AnAdjustedPairReachesItsTargetCosineExactly(double target, double cosine)
    {
        // Two unit-free gradients with a prescribed cosine; their norms differ by a factor 40.
        var gramian = new[,] { { 4.0, cosine * 2.0 * 80.0 }, { cosine * 2.0 * 80.0, 6400.0 } };
        var targets = new[,] { { 0.0, target }, { target, 0.0 } };
        var c = GradVac.AdjustmentCoefficients(gramian, [[1], [0]], targets, beta: 0.0);
        Assert.Equal(target, Cosine(gramian, [c[0, 0], c[0, 1]], 1), 12);
        Assert.Equal(target, Cosine(gramian, [c[1, 0], c[1, 1]], 0), 12);
        Assert.Equal(1.0, c[0, 0]);
        Assert.Equal(1.0, c[1, 1]);
    }

    [Fact]
    public void APairAboveItsTargetIsLeftAloneButItsTargetStillMoves()
    {
        // Algorithm 1 updates the EMA after every visit, adjusted or not: φ̂ ← 0.99·0 + 0.01·0.8 = 0.008.
        var gramian = new[,] { { 1.0, 0.8 }, { 0.8, 1.0 } };
        var targets = new double[2, 2];
        var c = GradVac.AdjustmentCoefficients(gramian, [[1], [0]], targets, beta: 0.01);
        Assert.Equal(new[] { 1.0, 0.0, 0.0, 1.0 }, new[] { c[0, 0], c[0, 1], c[1, 0], c[1, 1] });
        Assert.Equal(0.008, targets[0, 1], 15);
        Assert.Equal(0.008, targets[1, 0], 15);
    }

    [Fact]
    public void TwoOrthogonalGradientsWorkedExample()
    {
        // g1 = (1, 0), g2 = (0, 1): φ = 0 < φ̂ = 0.5, so g1' = g1 + ‖g1‖(0.5·1 − 0·√0.75)/(‖g2‖√0.75) g2 = g1 + g2/√3,
        // whose cosine with g2 is (1/√3)/√(4/3) = 0.5; symmetrically g2' = g2 + g1/√3. The update is
        // (1 + 1/√3)(1, 1), and each target moves to 0.9·0.5 + 0.1·0 = 0.45 (β = 0.1).
        using var scope = NewDisposeScope();
        var gradVac = new GradVac(beta: 0.1, initialTarget: 0.5, seed: 3);
        var jacobian = tensor(new[,] { { 1.0, 0.0 }, { 0.0, 1.0 } });
        var weights = gradVac.Weights(Jacobian.Gramian(jacobian));
        var expected = 1.0 + 1.0 / Math.Sqrt(3.0);
        Assert.Equal(expected, weights[0], 14);
        Assert.Equal(expected, weights[1], 14);
        var targets = gradVac.Targets!;
        Assert.Equal(0.45, targets[0, 1], 15);
        Assert.Equal(0.45, targets[1, 0], 15);
    }

    [Fact]
    public void TargetsFollowTheExponentialMovingAverageOfTheObservedCosines()
    {
        // Identical tasks: every observed cosine is 1 and no adjustment happens, so φ̂ after n steps is 1 − 0.99ⁿ.
        using var scope = NewDisposeScope();
        var g = RandomJacobian(1, 5, seed: 4);
        var jacobian = cat([g, g, g]);
        var gradVac = new GradVac(seed: 1);
        Assert.Null(gradVac.Targets);
        for (var step = 0; step < 4; step++)
        {
            Assert.True(gradVac.Aggregate(jacobian).allclose(3 * g[0], rtol: 1e-14, atol: 0));
        }
        var targets = gradVac.Targets!;
        for (var i = 0; i < 3; i++)
        {
            for (var j = 0; j < 3; j++)
            {
                Assert.Equal(i == j ? 0.0 : 1.0 - Math.Pow(0.99, 4), targets[i, j], 14);
            }
        }
    }

    [Theory]
    [MemberData(nameof(AdversarialNames), MemberType = typeof(TestJacobians))]
    public void AdversarialInputsStayFiniteOverManySteps(string name)
    {
        using var scope = NewDisposeScope();
        var jacobian = Adversarial(name);
        var gradVac = new GradVac(beta: 0.5, seed: 2);
        for (var step = 0; step < 20; step++)
        {
            var weights = gradVac.Weights(Jacobian.Gramian(jacobian));
            Assert.All(weights, w => Assert.True(double.IsFinite(w), $"{name}, step {step}: weight {w}"));
        }
        foreach (var target in gradVac.Targets!)
        {
            Assert.InRange(target, -1.0, 1.0);
        }
    }

    [Fact]
    public void ATargetOfOneIsNotChasedWithAnInfiniteStep()
    {
        var gramian = new[,] { { 1.0, 0.5 }, { 0.5, 1.0 } };
        var targets = new[,] { { 0.0, 1.0 }, { -1.0, 0.0 } };
        var c = GradVac.AdjustmentCoefficients(gramian, [[1], [0]], targets, beta: 0.5);
        Assert.Equal(new[] { 1.0, 0.0, 0.0, 1.0 }, new[] { c[0, 0], c[0, 1], c[1, 0], c[1, 1] });
        Assert.Equal(0.75, targets[0, 1], 15);
        Assert.Equal(-0.25, targets[1, 0], 15);
    }

    [Fact]
    public void ZeroGradientPairsAreSkippedWithoutTouchingTheirTargets()
    {
        var gramian = new[,] { { 1.0, 0.0, -0.5 }, { 0.0, 0.0, 0.0 }, { -0.5, 0.0, 1.0 } };
        var targets = new double[3, 3];
        targets[0, 1] = targets[1, 0] = targets[1, 2] = targets[2, 1] = 0.3;
        var c = GradVac.AdjustmentCoefficients(gramian, [[1, 2], [0, 2], [0, 1]], targets, beta: 0.5);
        Assert.Equal(0.3, targets[0, 1]);
        Assert.Equal(0.3, targets[1, 0]);
        Assert.Equal(0.3, targets[1, 2]);
        Assert.Equal(0.3, targets[2, 1]);
        Assert.Equal(new[] { 0.0, 1.0, 0.0 }, new[] { c[1, 0], c[1, 1], c[1, 2] });
        Assert.Equal(0.5, c[0, 2], 15);
        Assert.Equal(-0.25, targets[0, 2], 15);
    }

    [Fact]
    public void RestoredStateContinuesIdentically()
    {
        using var scope = NewDisposeScope();
        var jacobians = Enumerable.Range(0, 6).Select(s => RandomJacobian(4, 12, 100 + s)).ToArray();
        var original = new GradVac(beta: 0.2, seed: 8);
        for (var step = 0; step < 3; step++)
        {
            original.Aggregate(jacobians[step]);
        }
        var restored = new GradVac(beta: 0.2, seed: 12345);
        CopyState(original, restored);
        Assert.Equal(original.RandomState, restored.RandomState);
        for (var step = 3; step < 6; step++)
        {
            Assert.True(original.Aggregate(jacobians[step]).equal(restored.Aggregate(jacobians[step])).all().item<bool>(), $"step {step}");
        }
        Assert.Equal(original.Targets, restored.Targets);
    }

    [Fact]
    public void StateBeforeTheFirstStepRoundTrips()
    {
        var fresh = new GradVac(seed: 1);
        var other = new GradVac(seed: 2);
        other.Weights(new[,] { { 1.0, 0.0 }, { 0.0, 1.0 } });
        CopyState(fresh, other);
        Assert.Null(other.Targets);
        Assert.Equal(fresh.RandomState, other.RandomState);
    }

    [Fact]
    public void RefusesForeignOrCorruptState()
    {
        Assert.Contains("PCGrad/1", RefusalMessage(new GradVac(), foreign: new PCGrad(seed: 1)));

        using var corrupt = new MemoryStream();
        var writer = new BinaryWriter(corrupt);
        writer.Write("GradVac/1");
        writer.Write(1UL);
        writer.Write(2);
        foreach (var value in new[] { 0.0, 1.5, 0.0, 0.0 })
        {
            writer.Write(value);
        }
        corrupt.Position = 0;
        Assert.Contains("not a cosine", Assert.Throws<InvalidDataException>(() => new GradVac().LoadState(new BinaryReader(corrupt))).Message);
    }

    [Fact]
    public void RefusesAChangedNumberOfTasksUntilReset()
    {
        var gradVac = new GradVac(seed: 1);
        gradVac.Weights(new double[,] { { 1.0, 0.0 }, { 0.0, 1.0 } });
        Assert.Contains("targets for 2 tasks", Assert.Throws<ArgumentException>(() => gradVac.Weights(new double[3, 3])).Message);
        gradVac.Reset();
        Assert.Equal(3, gradVac.Weights(new double[3, 3]).Length);
    }

    [Fact]
    public void SingleTaskReturnsItsGradient()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(1, 9, seed: 8);
        Assert.True(new GradVac().Aggregate(jacobian).equal(jacobian[0]).all().item<bool>());
    }

    [Theory]
    [InlineData(-0.01, 0.0)]
    [InlineData(1.01, 0.0)]
    [InlineData(double.NaN, 0.0)]
    [InlineData(0.01, 1.0)]
    [InlineData(0.01, -1.0)]
    [InlineData(0.01, double.PositiveInfinity)]
    public void RejectsParametersOutOfRange(double beta, double initialTarget)
    {
        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => new GradVac(beta, initialTarget));
        Assert.Equal(double.IsFinite(beta) && beta is >= 0 and <= 1 ? "initialTarget" : "beta", exception.ParamName);
    }

    [Fact]
    public void RejectsBadOrdersAndGramians()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(3, 4, seed: 1);
        var gradVac = new GradVac();
        string Fail(int[][] orders) => Assert.Throws<ArgumentException>(() => gradVac.Aggregate(jacobian, orders)).Message;

        Assert.Contains("task 1 contains 1 itself", Fail([[1, 2], [1, 2], [0, 1]]));
        Assert.Contains("task 2 visits task 0 twice", Fail([[1, 2], [0, 2], [0, 0]]));
        Assert.Contains("task 0 must list each of the other 2 tasks", Fail([[1], [0, 2], [0, 1]]));
        Assert.Contains("task 0 contains 3", Fail([[1, 3], [0, 2], [0, 1]]));
        Assert.Contains("one order per task (3)", Fail([[1, 2], [0, 2]]));
        Assert.Null(gradVac.Targets);
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => gradVac.Weights(new double[2, 3])).Message);
        Assert.Contains("targets are 2×2",
            Assert.Throws<ArgumentException>(() => GradVac.AdjustmentCoefficients(new double[3, 3], [[1, 2], [0, 2], [0, 1]], new double[2, 2], 0.1)).Message);
    }
}
