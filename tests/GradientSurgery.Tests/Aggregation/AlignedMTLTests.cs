using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class AlignedMTLTests
{
    private static Tensor Adversarial(string name) => TestJacobians.Adversarial(name, seed: 29);

    private static Tensor Matrix(double[,] values) => tensor(values, dtype: ScalarType.Float64);

    /// <summary>
    /// Checks the defining property: the Gramian of the aligned Jacobian J' = B J has every eigenvalue equal to 0
    /// or to the smallest eigenvalue that J's Gramian keeps (λ_R), and exactly R of them are non-zero.
    /// </summary>
    private static void AssertAlignedSystemIsPerfectlyConditioned(Tensor jacobian, double rankEpsilon)
    {
        using var scope = NewDisposeScope();
        var gramian = Jacobian.Gramian(jacobian);
        var balance = Matrix(AlignedMTL.BalanceMatrix(gramian, rankEpsilon));
        var aligned = balance.mm(jacobian);
        var alignedEigenvalues = linalg.eigvalsh(aligned.mm(aligned.t())).data<double>().ToArray();

        var eigenvalues = linalg.eigvalsh(Matrix(gramian)).data<double>().ToArray();
        var largest = eigenvalues.Max();
        var kept = eigenvalues.Where(l => l > jacobian.shape[0] * rankEpsilon * largest).ToArray();
        if (kept.Length == 0)
        {
            Assert.All(alignedEigenvalues, l => Assert.Equal(0.0, l));
            return;
        }
        var smallestKept = kept.Min();
        var nonZero = alignedEigenvalues.Where(l => l > 1e-6 * smallestKept).ToArray();
        Assert.Equal(kept.Length, nonZero.Length);
        Assert.All(nonZero, l => Assert.True(Math.Abs(l - smallestKept) <= 1e-8 * smallestKept, $"aligned eigenvalue {l} vs λ_R = {smallestKept}"));
        Assert.All(alignedEigenvalues.Except(nonZero), l => Assert.True(Math.Abs(l) <= 1e-10 * smallestKept, $"aligned eigenvalue {l} should be 0"));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    [InlineData(5, 4)]
    [InlineData(10, 5)]
    [InlineData(30, 6)]
    public void AlignedGradientsHaveConditionNumberOne(int tasks, long seed)
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(tasks, 40, seed);
        AssertAlignedSystemIsPerfectlyConditioned(jacobian, AlignedMTL.Float32Epsilon);
        AssertAlignedSystemIsPerfectlyConditioned(jacobian, AlignedMTL.Float64Epsilon);
    }

    [Theory]
    [MemberData(nameof(AdversarialNames), MemberType = typeof(TestJacobians))]
    public void AdversarialInputsKeepTheDefiningPropertyAndStayFinite(string name)
    {
        using var scope = NewDisposeScope();
        var jacobian = Adversarial(name);
        foreach (var epsilon in new[] { AlignedMTL.Float32Epsilon, AlignedMTL.Float64Epsilon })
        {
            AssertAlignedSystemIsPerfectlyConditioned(jacobian, epsilon);
            var weights = new AlignedMTL(rankEpsilon: epsilon).Weights(Jacobian.Gramian(jacobian));
            Assert.All(weights, w => Assert.True(double.IsFinite(w)));
        }
    }

    [Fact]
    public void UpdateIsTheWeightedSumOfTheAlignedGradients()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(4, 25, seed: 7);
        var aligned = Matrix(AlignedMTL.BalanceMatrix(Jacobian.Gramian(jacobian))).mm(jacobian);
        Assert.True(new AlignedMTL().Aggregate(jacobian).allclose(aligned.sum(dim: 0), rtol: 1e-12, atol: 1e-12));

        var taskWeights = new[] { 0.1, 2.0, 0.0, 1.5 };
        var expected = tensor(taskWeights).matmul(aligned);
        Assert.True(new AlignedMTL(taskWeights).Aggregate(jacobian).allclose(expected, rtol: 1e-12, atol: 1e-12));
    }

    [Fact]
    public void MatchesAlgorithmOneComputedWithLapack()
    {
        // Algorithm 1 step by step on LAPACK's eigendecomposition, with the official rank tolerance.
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(6, 20, seed: 11);
        var gramian = jacobian.mm(jacobian.t());
        var (lambda, v) = linalg.eigh(gramian);
        var rank = (lambda > lambda.max() * 6 * AlignedMTL.Float32Epsilon).sum().item<long>();
        Assert.Equal(6, rank);
        var balance = v.mm(diag(lambda.min().sqrt() / lambda.sqrt())).mm(v.t());
        var expected = balance.mm(jacobian).sum(dim: 0);
        Assert.True(new AlignedMTL().Aggregate(jacobian).allclose(expected, rtol: 1e-10, atol: 1e-12));
    }

    [Fact]
    public void OrthogonalGradientsWorkedExample()
    {
        // g1 = (3, 0), g2 = (0, 1): M = diag(9, 1), λ_R = 1, B = diag(1/3, 1). Aligned gradients (1, 0) and (0, 1),
        // update (1, 1) with weights B·1 = (1/3, 1).
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 3.0, 0.0 }, { 0.0, 1.0 } });
        var weights = new AlignedMTL().Weights(Jacobian.Gramian(jacobian));
        Assert.Equal(1.0 / 3.0, weights[0], 15);
        Assert.Equal(1.0, weights[1], 15);
        Assert.True(new AlignedMTL().Aggregate(jacobian).allclose(tensor(new[] { 1.0, 1.0 }), rtol: 0, atol: 1e-15));
    }

    [Fact]
    public void TwoCorrelatedGradientsWorkedExample()
    {
        // g1 = (1, 0), g2 = (1, 1): M = [[1, 1], [1, 2]], eigenvalues φ² and φ⁻² (φ the golden ratio, det M = 1).
        // M^½ = (M + I)/√5, so M^(−½) = [[3, −1], [−1, 2]]/√5 and B = φ⁻¹ M^(−½). The aligned gradients are
        // (3g1 − g2, −g1 + 2g2)/(√5 φ) = ((2, −1), (1, 2))/(√5 φ): orthogonal, both of norm 1/φ = σ_min.
        // Weights B·1 = (2, 1)/(√5 φ); update (3, 1)/(√5 φ) with √5 φ = (5 + √5)/2.
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1.0, 0.0 }, { 1.0, 1.0 } });
        var scale = (5.0 + Math.Sqrt(5.0)) / 2.0;
        var weights = new AlignedMTL().Weights(Jacobian.Gramian(jacobian));
        Assert.Equal(2.0 / scale, weights[0], 14);
        Assert.Equal(1.0 / scale, weights[1], 14);
        var aligned = Matrix(AlignedMTL.BalanceMatrix(Jacobian.Gramian(jacobian))).mm(jacobian);
        Assert.True(aligned.allclose(tensor(new[,] { { 2.0, -1.0 }, { 1.0, 2.0 } }) / scale, rtol: 0, atol: 1e-14));
        Assert.True(new AlignedMTL().Aggregate(jacobian).allclose(tensor(new[] { 3.0, 1.0 }) / scale, rtol: 0, atol: 1e-14));
    }

    [Fact]
    public void ZeroGradientTakesNoPart()
    {
        using var scope = NewDisposeScope();
        var jacobian = Adversarial("zeroRow");
        var weights = new AlignedMTL().Weights(Jacobian.Gramian(jacobian));
        var without = new AlignedMTL().Weights(Jacobian.Gramian(jacobian.index_select(0, tensor(new long[] { 0, 2 }))));
        Assert.Equal(0.0, weights[1], 15);
        Assert.Equal(without[0], weights[0], 13);
        Assert.Equal(without[1], weights[2], 13);
    }

    [Fact]
    public void OppositeGradientsCancel()
    {
        // M has rank 1 with eigenvector (1, −1)/√2, so B = ½[[1, −1], [−1, 1]] and B·1 = 0.
        using var scope = NewDisposeScope();
        var jacobian = Adversarial("opposite");
        Assert.All(new AlignedMTL().Weights(Jacobian.Gramian(jacobian)), w => Assert.Equal(0.0, w, 15));
    }

    [Fact]
    public void AllZeroGradientsGiveZeroWeightsAndASingleTaskIsUnchanged()
    {
        using var scope = NewDisposeScope();
        Assert.Equal(new[] { 0.0, 0.0, 0.0 }, new AlignedMTL().Weights(new double[3, 3]));
        var single = RandomJacobian(1, 5, seed: 3);
        Assert.True(new AlignedMTL().Aggregate(single).allclose(single[0], rtol: 1e-15, atol: 0));
    }

    [Fact]
    public void TheRankEpsilonDecidesWhetherATinyDirectionIsKept()
    {
        // With gradient norms about 1, 10⁶ and 1 the Gramian's eigenvalues span about 12 orders of magnitude: the
        // official float32 tolerance keeps only the dominant direction, the float64 one keeps all three.
        using var scope = NewDisposeScope();
        var jacobian = Adversarial("magnitudes");
        var gramian = Jacobian.Gramian(jacobian);
        var coarse = AlignedMTL.BalanceMatrix(gramian, AlignedMTL.Float32Epsilon);
        var fine = AlignedMTL.BalanceMatrix(gramian, AlignedMTL.Float64Epsilon);
        Assert.Equal(1, linalg.matrix_rank(Matrix(coarse)).item<long>());
        Assert.Equal(3, linalg.matrix_rank(Matrix(fine)).item<long>());
    }

    [Fact]
    public void KeepsTheJacobiansDtype()
    {
        using var scope = NewDisposeScope();
        AssertKeepsTheJacobiansDtype(() => new AlignedMTL(), RandomJacobian(3, 30, seed: 2));
    }

    [Fact]
    public void RejectsBadArguments()
    {
        using var scope = NewDisposeScope();
        Assert.Equal("taskWeights", Assert.Throws<ArgumentOutOfRangeException>(() => new AlignedMTL([1.0, -0.5])).ParamName);
        Assert.Equal("taskWeights", Assert.Throws<ArgumentOutOfRangeException>(() => new AlignedMTL([double.NaN])).ParamName);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => new AlignedMTL([])).Message);
        Assert.Equal("rankEpsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new AlignedMTL(rankEpsilon: -1e-9)).ParamName);
        Assert.Equal("rankEpsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new AlignedMTL(rankEpsilon: 1.0)).ParamName);
        Assert.Contains("2 task weights, but the Gramian has 3 tasks",
            Assert.Throws<ArgumentException>(() => new AlignedMTL([1.0, 1.0]).Weights(new double[3, 3])).Message);
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => AlignedMTL.BalanceMatrix(new double[1, 2])).Message);
        Assert.Contains("negative", Assert.Throws<ArgumentException>(() => new AlignedMTL().Weights(new[,] { { -4.0 } })).Message);
    }
}
