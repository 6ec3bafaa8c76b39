using GradientSurgery.Aggregation.Solvers;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation.Solvers;

public sealed class DenseLinearAlgebraTests
{
    private static double[,] RandomSymmetric(int n, long seed)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n, dtype: ScalarType.Float64, generator: new Generator((ulong)seed));
        return SquareArray(a + a.t());
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
        var (values, vectors) = DenseLinearAlgebra.SymmetricEigen(a);
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
        var (values, vectors) = DenseLinearAlgebra.SymmetricEigen(new[,] { { 2.0, 1.0 }, { 1.0, 2.0 } });
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
        var (values, _) = DenseLinearAlgebra.SymmetricEigen(g);
        Assert.True(values[2] > 0 && values[2] < 1e-5, $"smallest eigenvalue {values[2]}");
        Assert.Equal(1.0, values[0] * values[1] * values[2] / determinantOfC, 1e-10);
    }

    [Fact]
    public void ZeroAndDiagonalMatricesNeedNoRotation()
    {
        var (zeroValues, zeroVectors) = DenseLinearAlgebra.SymmetricEigen(new double[3, 3]);
        Assert.Equal(new[] { 0.0, 0.0, 0.0 }, zeroValues);
        Assert.Equal(1.0, zeroVectors[0, 0]);

        var (values, vectors) = DenseLinearAlgebra.SymmetricEigen(new[,] { { 1.0, 0.0, 0.0 }, { 0.0, 5.0, 0.0 }, { 0.0, 0.0, 3.0 } });
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
        var (values, vectors) = DenseLinearAlgebra.SymmetricEigen(g);
        Assert.True(Math.Abs(values[2]) <= 4 * DenseLinearAlgebra.Eps * values[0], $"null eigenvalue {values[2]}");
        Assert.Equal(Math.Abs(vectors[0, 2]), Math.Abs(vectors[2, 2]), 12);
        Assert.Equal(0.0, vectors[1, 2], 12);
    }

    [Fact]
    public void CholeskyFactorsAndSolvesAPositiveDefiniteMatrix()
    {
        var a = Gram(Gaussian(5, 9, seed: 1));
        Assert.True(DenseLinearAlgebra.TryCholesky(a, out var lower));
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
        var x = DenseLinearAlgebra.CholeskySolve(lower, rhs);
        var back = Times(a, x);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(rhs[i], back[i], 10);
        }
    }

    [Fact]
    public void CholeskyRefusesIndefiniteAndSingularMatrices()
    {
        Assert.False(DenseLinearAlgebra.TryCholesky(new[,] { { 1.0, 2.0 }, { 2.0, 1.0 } }, out _));
        Assert.False(DenseLinearAlgebra.TryCholesky(new[,] { { 1.0, 1.0 }, { 1.0, 1.0 } }, out _));
        // The shifted factorisation still succeeds on the singular one.
        Assert.NotNull(DenseLinearAlgebra.CholeskyWithShift(new[,] { { 1.0, 1.0 }, { 1.0, 1.0 } }));
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
        var (values, vectors) = DenseLinearAlgebra.SymmetricEigen(a);
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
        var (values, _) = DenseLinearAlgebra.SymmetricEigen(new[,] { { 2.0, 1.0 }, { 1.0, 2.0 } });
        Assert.Equal(new[] { 1.0, 3.0 }, values.Order().Select(v => Math.Round(v, 14)));
    }

    [Fact]
    public void ClippingKeepsThePositivePart()
    {
        // [[1, 2], [2, 1]] = 3·uuᵀ − 1·vvᵀ with u = (1, 1)/√2, v = (1, −1)/√2; the positive part is 1.5·[[1, 1], [1, 1]].
        var clipped = DenseLinearAlgebra.ClipNegativeEigenvalues(new[,] { { 1.0, 2.0 }, { 2.0, 1.0 } });
        foreach (var entry in clipped)
        {
            Assert.Equal(1.5, entry, 14);
        }
        var psd = Gram(Gaussian(4, 6, seed: 2));
        var unchanged = DenseLinearAlgebra.ClipNegativeEigenvalues(psd);
        for (var i = 0; i < 4; i++)
        {
            for (var j = 0; j < 4; j++)
            {
                Assert.Equal(psd[i, j], unchanged[i, j], 12);
            }
        }
    }

    [Fact]
    public void ProductsOfAWorkedExample()
    {
        // A = [[2, 1], [1, 3]], v = (1, −2): Av = (0, −5), vᵀAv = 10, and v·(3, 4) = −5.
        var a = new[,] { { 2.0, 1.0 }, { 1.0, 3.0 } };
        Assert.Equal(new[] { 0.0, -5.0 }, DenseLinearAlgebra.Multiply(a, [1.0, -2.0]));
        Assert.Equal(10.0, DenseLinearAlgebra.Quadratic(a, [1.0, -2.0]));
        Assert.Equal(-5.0, DenseLinearAlgebra.Dot([1.0, -2.0], [3.0, 4.0]));
        Assert.Equal(-5.0, DenseLinearAlgebra.RowDot(a, 1, [1.0, -2.0]));
    }

    [Fact]
    public void RowDotKeepsWhatPlainSummationCancels()
    {
        // 1e16 + 1 − 1e16 is 0 in plain float64 summation but 1 in twice the working precision.
        var a = new[,] { { 1e16, 1.0, -1e16 } };
        Assert.Equal(1.0, DenseLinearAlgebra.RowDot(a, 0, [1.0, 1.0, 1.0]));
    }

    [Fact]
    public void IncrementalCholeskyRefusesDependentColumnsAndSolvesOnTheRest()
    {
        // Rows 0 and 1 of J are independent and row 2 is their sum, so column 2 of G = J Jᵀ is in the span of columns 0 and 1.
        var j = Gaussian(3, 5, seed: 7);
        for (var k = 0; k < 5; k++)
        {
            j[2, k] = j[0, k] + j[1, k];
        }
        var g = Gram(j);
        var factor = new IncrementalCholesky(g, 3);
        Assert.True(factor.TryAppend(0));
        Assert.True(factor.TryAppend(1));
        Assert.False(factor.TryAppend(2));
        Assert.Equal(new[] { 0, 1 }, factor.Indices);
        Assert.True(factor.Contains(1));
        Assert.False(factor.Contains(2));

        var z = factor.Solve([1.0, -1.0]);
        Assert.Equal(1.0, g[0, 0] * z[0] + g[0, 1] * z[1], 12);
        Assert.Equal(-1.0, g[1, 0] * z[0] + g[1, 1] * z[1], 12);

        factor.RemoveLast();
        Assert.Equal(new[] { 0 }, factor.Indices);
        Assert.False(factor.Contains(1));
        Assert.True(factor.TryAppend(2));
        factor.Clear();
        Assert.Equal(0, factor.Count);
        Assert.False(factor.Contains(0));
    }

    [Fact]
    public void AnActiveSetStepStopsWhereTheFirstFreeEntryReachesZero()
    {
        // From x = (0.5, 0.5) towards (1.5, −0.5) on indices 0 and 1: entry 1 reaches 0 at step 0.5, where entry 0
        // is 0.5 + 0.5·1 = 1; entry 2 is not free and keeps its value.
        var x = new[] { 0.5, 0.5, 0.25 };
        ActiveSet.StepTowards(x, [0, 1], [1.5, -0.5]);
        Assert.Equal(new[] { 1.0, 0.0, 0.25 }, x);
    }
}
