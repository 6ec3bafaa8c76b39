using GradientSurgery.Aggregation;
using GradientSurgery.Aggregation.Solvers;
using static GradientSurgery.Tests.Aggregation.TestJacobians;

namespace GradientSurgery.Tests.Aggregation.Solvers;

public sealed class PsdGramianTests
{
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
        Assert.Contains(DenseLinearAlgebra.SymmetricEigen(g).Values, v => v < -1e-8);
        var prepared = PsdGramian.Prepare(CheckedGramian.From(g).Values, ridge: 1e-10);
        Assert.True(prepared.Repaired);
        Assert.True(DenseLinearAlgebra.TryCholesky(prepared.Regularized, out _));
        Assert.All(DenseLinearAlgebra.SymmetricEigen(prepared.Normalized).Values, v => Assert.True(v > -1e-15));
    }
}
