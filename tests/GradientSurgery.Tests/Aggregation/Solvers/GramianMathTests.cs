using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation.Solvers;

public sealed class GramianMathTests
{
    private static double[,] RandomSymmetric(int n, long seed)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n, dtype: ScalarType.Float64, generator: new Generator((ulong)seed));
        return ToArray(a + a.t());
    }

    private static double[,] ToArray(Tensor matrix)
    {
        var n = (int)matrix.shape[0];
        var values = matrix.contiguous().data<double>().ToArray();
        var result = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                result[i, j] = values[i * n + j];
            }
        }
        return result;
    }

    private static double FrobeniusNorm(double[,] a)
    {
        var sum = 0.0;
        foreach (var x in a)
        {
            sum += x * x;
        }
        return Math.Sqrt(sum);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(20)]
    [InlineData(100)]
    public void DecompositionIsOrthogonalReconstructsTheMatrixAndMatchesLapack(int n)
    {
        var a = RandomSymmetric(n, seed: n);
        var (values, vectors) = GramianMath.SymmetricEigen(a);
        var scale = FrobeniusNorm(a);

        for (var k = 1; k < n; k++)
        {
            Assert.True(values[k - 1] >= values[k], "eigenvalues must be sorted in descending order");
        }
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var gram = 0.0;
                var reconstructed = 0.0;
                for (var k = 0; k < n; k++)
                {
                    gram += vectors[k, i] * vectors[k, j];
                    reconstructed += vectors[i, k] * values[k] * vectors[j, k];
                }
                Assert.Equal(i == j ? 1.0 : 0.0, gram, 1e-13);
                Assert.True(Math.Abs(reconstructed - a[i, j]) <= 1e-13 * scale, $"A[{i},{j}] reconstructed as {reconstructed}, expected {a[i, j]}");
            }
        }

        using var scope = NewDisposeScope();
        var lapack = linalg.eigvalsh(tensor(a)).data<double>().ToArray().Reverse().ToArray();
        for (var k = 0; k < n; k++)
        {
            Assert.True(Math.Abs(lapack[k] - values[k]) <= 1e-13 * scale, $"eigenvalue {k}: {values[k]} vs LAPACK {lapack[k]}");
        }
    }

    [Fact]
    public void TwoByTwoWorkedExample()
    {
        // [[2, 1], [1, 2]] has eigenvalues 3 (eigenvector (1, 1)/√2) and 1 (eigenvector (1, −1)/√2).
        var (values, vectors) = GramianMath.SymmetricEigen(new[,] { { 2.0, 1.0 }, { 1.0, 2.0 } });
        Assert.Equal(3.0, values[0], 15);
        Assert.Equal(1.0, values[1], 15);
        var r = Math.Sqrt(0.5);
        Assert.Equal(r, Math.Abs(vectors[0, 0]), 15);
        Assert.Equal(vectors[0, 0], vectors[1, 0], 15);
        Assert.Equal(r, Math.Abs(vectors[0, 1]), 15);
        Assert.Equal(-vectors[0, 1], vectors[1, 1], 15);
    }

    [Fact]
    public void SmallEigenvaluesOfABadlyScaledGramianKeepTheirRelativeAccuracy()
    {
        // G = D C D with D = diag(1, 10³, 10⁻³) and C a well-conditioned correlation matrix: the eigenvalues span
        // 12 orders of magnitude. Their product is det(G) = det(C)·Π d_i² = det(C) exactly here, so a small
        // eigenvalue computed with only absolute accuracy (≈ ε·λ_max ≈ 2·10⁻¹⁰) would break the identity.
        var c = new[,] { { 1.0, 0.3, -0.2 }, { 0.3, 1.0, 0.4 }, { -0.2, 0.4, 1.0 } };
        var d = new[] { 1.0, 1e3, 1e-3 };
        var g = new double[3, 3];
        for (var i = 0; i < 3; i++)
        {
            for (var j = 0; j < 3; j++)
            {
                g[i, j] = d[i] * c[i, j] * d[j];
            }
        }
        var determinantOfC = 1.0 * (1.0 - 0.16) - 0.3 * (0.3 + 0.08) + (-0.2) * (0.12 + 0.2);
        var (values, _) = GramianMath.SymmetricEigen(g);
        Assert.True(values[2] > 0 && values[2] < 1e-5, $"smallest eigenvalue {values[2]}");
        Assert.Equal(1.0, values[0] * values[1] * values[2] / determinantOfC, 1e-10);
    }

    [Fact]
    public void ZeroAndDiagonalMatricesNeedNoRotation()
    {
        var (zeroValues, zeroVectors) = GramianMath.SymmetricEigen(new double[3, 3]);
        Assert.Equal(new[] { 0.0, 0.0, 0.0 }, zeroValues);
        Assert.Equal(1.0, zeroVectors[0, 0]);

        var (values, vectors) = GramianMath.SymmetricEigen(new[,] { { 1.0, 0.0, 0.0 }, { 0.0, 5.0, 0.0 }, { 0.0, 0.0, 3.0 } });
        Assert.Equal(new[] { 5.0, 3.0, 1.0 }, values);
        Assert.Equal(1.0, vectors[1, 0]);
        Assert.Equal(1.0, vectors[2, 1]);
        Assert.Equal(1.0, vectors[0, 2]);
    }

    [Fact]
    public void ExactlyRepeatedRowsGiveATinyNullEigenvalue()
    {
        // Rows 0 and 2 of this Gramian are equal, so (1, 0, −1)/√2 is an exact null vector.
        var g = new[,] { { 4.0, 2.0, 4.0 }, { 2.0, 3.0, 2.0 }, { 4.0, 2.0, 4.0 } };
        var (values, vectors) = GramianMath.SymmetricEigen(g);
        Assert.True(Math.Abs(values[2]) <= 4 * GramianMath.Eps * values[0], $"null eigenvalue {values[2]}");
        Assert.Equal(Math.Abs(vectors[0, 2]), Math.Abs(vectors[2, 2]), 12);
        Assert.Equal(0.0, vectors[1, 2], 12);
    }

    [Fact]
    public void CosineMatrixHasAUnitDiagonalAndClampsRounding()
    {
        // Tasks 0 and 2 are parallel but the stored dot product exceeds ‖g_0‖‖g_2‖ by rounding; task 1 is skipped.
        var g = new[,] { { 4.0, 0.0, 6.000000001 }, { 0.0, 0.0, 0.0 }, { 6.000000001, 0.0, 9.0 } };
        var c = GramianMath.CosineMatrix(g, [0, 2]);
        Assert.Equal(1.0, c[0, 0]);
        Assert.Equal(1.0, c[1, 1]);
        Assert.Equal(1.0, c[0, 1]);
        Assert.Equal(1.0, c[1, 0]);
        Assert.Equal(new[] { 0, 2 }, GramianMath.NonZeroTasks(g));
        Assert.Equal(new[] { 2.0, 0.0, 3.0 }, GramianMath.Norms(g));
    }
}
