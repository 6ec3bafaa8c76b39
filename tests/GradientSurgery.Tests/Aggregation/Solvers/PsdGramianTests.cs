using GradientSurgery.Aggregation.Solvers;
using static GradientSurgery.Tests.Aggregation.Solvers.DenseTestMatrices;

namespace GradientSurgery.Tests.Aggregation.Solvers;

public sealed class PsdGramianTests
{
    [Fact]
    public void CholeskyFactorsAndSolvesAPositiveDefiniteMatrix()
    {
        var a = Gram(Gaussian(5, 9, seed: 1));
        Assert.True(PsdGramian.TryCholesky(a, out var lower));
        for (var i = 0; i < 5; i++)
        {
            for (var j = 0; j < 5; j++)
            {
                var sum = 0.0;
                for (var k = 0; k < 5; k++)
                {
                    sum += lower[i, k] * lower[j, k];
                }
                Assert.Equal(a[i, j], sum, 12);
            }
        }
        var rhs = new[] { 1.0, -2.0, 0.5, 3.0, 0.0 };
        var x = PsdGramian.CholeskySolve(lower, rhs);
        var back = Times(a, x);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(rhs[i], back[i], 10);
        }
    }

    [Fact]
    public void CholeskyRefusesIndefiniteAndSingularMatrices()
    {
        Assert.False(PsdGramian.TryCholesky(new[,] { { 1.0, 2.0 }, { 2.0, 1.0 } }, out _));
        Assert.False(PsdGramian.TryCholesky(new[,] { { 1.0, 1.0 }, { 1.0, 1.0 } }, out _));
        // The shifted factorisation still succeeds on the singular one.
        Assert.NotNull(PsdGramian.CholeskyWithShift(new[,] { { 1.0, 1.0 }, { 1.0, 1.0 } }));
    }

    [Fact]
    public void JacobiEigenDecompositionReconstructsTheMatrix()
    {
        var x = Gaussian(6, 6, seed: 4);
        var a = new double[6, 6];
        for (var i = 0; i < 6; i++)
        {
            for (var j = 0; j < 6; j++)
            {
                a[i, j] = x[i, j] + x[j, i];
            }
        }
        var (values, vectors) = PsdGramian.SymmetricEigen(a);
        for (var i = 0; i < 6; i++)
        {
            for (var j = 0; j < 6; j++)
            {
                var reconstructed = 0.0;
                var orthogonality = 0.0;
                for (var k = 0; k < 6; k++)
                {
                    reconstructed += vectors[i, k] * values[k] * vectors[j, k];
                    orthogonality += vectors[k, i] * vectors[k, j];
                }
                Assert.Equal(a[i, j], reconstructed, 12);
                Assert.Equal(i == j ? 1.0 : 0.0, orthogonality, 13);
            }
        }
    }

    [Fact]
    public void EigenvaluesOfAWorkedTwoByTwo()
    {
        // [[2, 1], [1, 2]] has eigenvalues 1 (vector (1, −1)/√2) and 3 (vector (1, 1)/√2).
        var (values, _) = PsdGramian.SymmetricEigen(new[,] { { 2.0, 1.0 }, { 1.0, 2.0 } });
        Assert.Equal(new[] { 1.0, 3.0 }, values.Order().Select(v => Math.Round(v, 14)));
    }

    [Fact]
    public void ClippingKeepsThePositivePart()
    {
        // [[1, 2], [2, 1]] = 3·uuᵀ − 1·vvᵀ with u = (1, 1)/√2, v = (1, −1)/√2; the positive part is 1.5·[[1, 1], [1, 1]].
        var clipped = PsdGramian.ClipNegativeEigenvalues(new[,] { { 1.0, 2.0 }, { 2.0, 1.0 } });
        foreach (var entry in clipped)
        {
            Assert.Equal(1.5, entry, 14);
        }
        var psd = Gram(Gaussian(4, 6, seed: 2));
        var unchanged = PsdGramian.ClipNegativeEigenvalues(psd);
        for (var i = 0; i < 4; i++)
        {
            for (var j = 0; j < 4; j++)
            {
                Assert.Equal(psd[i, j], unchanged[i, j], 12);
            }
        }
    }

    [Fact]
    public void PrepareDropsZeroGradientsNormalisesAndAddsARelativeRidge()
    {
        var g = new[,] { { 4.0, 0.0, 2.0 }, { 0.0, 0.0, 0.0 }, { 2.0, 0.0, 16.0 } };
        var prepared = PsdGramian.Prepare(g, ridge: 0.5);
        Assert.Equal(new[] { 0, 2 }, prepared.Active);
        Assert.Equal(16.0, prepared.Scale);
        Assert.False(prepared.Repaired);
        Assert.Equal(new[,] { { 0.25, 0.125 }, { 0.125, 1.0 } }, prepared.Normalized);
        Assert.Equal(new[,] { { 0.375, 0.125 }, { 0.125, 1.5 } }, prepared.Regularized);
    }

    [Fact]
    public void PrepareRepairsRoundingIndefiniteness()
    {
        // Three gradients in a plane have a singular Gramian; lowering the off-diagonal products by 1e-7
        // (float32-sized rounding) makes it indefinite by far more than the ridge.
        var g = Gram(new[,] { { 1.0, 0.0 }, { -1.0, 0.001 }, { 0.3, -1.0 } });
        for (var i = 0; i < 3; i++)
        {
            for (var j = 0; j < 3; j++)
            {
                if (i != j)
                {
                    g[i, j] *= 1 + 1e-7;
                }
            }
        }
        Assert.Contains(PsdGramian.SymmetricEigen(g).Values, v => v < -1e-8);
        var prepared = PsdGramian.Prepare(GramianInput.Symmetrised(g, "g"), ridge: 1e-10);
        Assert.True(prepared.Repaired);
        Assert.True(PsdGramian.TryCholesky(prepared.Regularized, out _));
        Assert.All(PsdGramian.SymmetricEigen(prepared.Normalized).Values, v => Assert.True(v > -1e-15));
    }
}
