namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// Small dense linear algebra on Gramians for the weighting solvers: Cholesky, a Jacobi
/// eigen-decomposition, and the preparation shared by the Nash-MTL, FairGrad and CAGrad solvers (dropping
/// zero gradients, normalising the scale, repairing rounding-induced indefiniteness, adding a relative ridge).
/// </summary>
/// <remarks>
/// Hand-written because T ≤ 100 makes these O(T³) loops cheap, and no kept .NET package provides them
/// without a heavy native dependency.
/// </remarks>
internal static class PsdGramian
{
    /// <summary>
    /// The lower Cholesky factor of <paramref name="matrix"/>, or false when a pivot is not positive (the
    /// matrix is not numerically positive definite).
    /// </summary>
    public static bool TryCholesky(double[,] matrix, out double[,] lower)
    {
        var n = matrix.GetLength(0);
        lower = new double[n, n];
        for (var j = 0; j < n; j++)
        {
            var pivot = matrix[j, j];
            for (var k = 0; k < j; k++)
            {
                pivot -= lower[j, k] * lower[j, k];
            }
            if (!(pivot > 0.0) || !double.IsFinite(pivot))
            {
                return false;
            }
            var root = Math.Sqrt(pivot);
            lower[j, j] = root;
            for (var i = j + 1; i < n; i++)
            {
                var sum = matrix[i, j];
                for (var k = 0; k < j; k++)
                {
                    sum -= lower[i, k] * lower[j, k];
                }
                lower[i, j] = sum / root;
            }
        }
        return true;
    }

    /// <summary>
    /// Cholesky factor of <paramref name="matrix"/> + τ·diag(matrix), with τ = 0 first and then growing from
    /// 1e-14 until the factorisation succeeds. Newton systems here are positive definite in exact arithmetic;
    /// the shift only absorbs rounding when a barrier or curvature term becomes tiny.
    /// </summary>
    public static double[,] CholeskyWithShift(double[,] matrix)
    {
        if (TryCholesky(matrix, out var lower))
        {
            return lower;
        }
        var n = matrix.GetLength(0);
        var maxDiagonal = 0.0;
        for (var i = 0; i < n; i++)
        {
            maxDiagonal = Math.Max(maxDiagonal, Math.Abs(matrix[i, i]));
        }
        var shifted = (double[,])matrix.Clone();
        for (var tau = 1e-14; tau <= 1e6; tau *= 100)
        {
            for (var i = 0; i < n; i++)
            {
                // A relative shift keeps badly scaled diagonals in proportion; the floor covers zero diagonals.
                shifted[i, i] = matrix[i, i] + tau * (Math.Abs(matrix[i, i]) + 1e-300 + 1e-16 * maxDiagonal);
            }
            if (TryCholesky(shifted, out lower))
            {
                return lower;
            }
        }
        throw new InvalidOperationException("A Newton system could not be factorised; its entries are not finite.");
    }

    /// <summary>Solves L Lᵀ x = <paramref name="rhs"/> given the lower Cholesky factor.</summary>
    public static double[] CholeskySolve(double[,] lower, double[] rhs)
    {
        var n = rhs.Length;
        var y = new double[n];
        for (var i = 0; i < n; i++)
        {
            var sum = rhs[i];
            for (var k = 0; k < i; k++)
            {
                sum -= lower[i, k] * y[k];
            }
            y[i] = sum / lower[i, i];
        }
        var x = new double[n];
        for (var i = n - 1; i >= 0; i--)
        {
            var sum = y[i];
            for (var k = i + 1; k < n; k++)
            {
                sum -= lower[k, i] * x[k];
            }
            x[i] = sum / lower[i, i];
        }
        return x;
    }

    /// <summary>
    /// Row <paramref name="row"/> of A times x, as if computed in twice the working precision (Ogita, Rump and
    /// Oishi's Dot2 with fused multiply-add). Residuals of the solvers' conditions cancel heavily when gradient
    /// norms differ by orders of magnitude; this keeps them, and the Newton steps built on them, accurate.
    /// </summary>
    public static double RowDot(double[,] a, int row, double[] x)
    {
        var sum = 0.0;
        var compensation = 0.0;
        for (var j = 0; j < x.Length; j++)
        {
            var product = a[row, j] * x[j];
            var productError = Math.FusedMultiplyAdd(a[row, j], x[j], -product);
            var next = sum + product;
            var back = next - sum;
            var sumError = (sum - (next - back)) + (product - back);
            sum = next;
            compensation += sumError + productError;
        }
        return sum + compensation;
    }

    /// <summary>
    /// Eigen-decomposition A = V diag(λ) Vᵀ of a symmetric matrix by the cyclic Jacobi method (accurate to
    /// rounding, robust for repeated eigenvalues). Column k of the returned matrix is the eigenvector of λ_k.
    /// </summary>
    public static (double[] Values, double[,] Vectors) SymmetricEigen(double[,] matrix)
    {
        var n = matrix.GetLength(0);
        var a = (double[,])matrix.Clone();
        var v = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            v[i, i] = 1.0;
        }
        for (var sweep = 0; sweep < 100; sweep++)
        {
            var off = 0.0;
            var total = 0.0;
            for (var i = 0; i < n; i++)
            {
                total += a[i, i] * a[i, i];
                for (var j = i + 1; j < n; j++)
                {
                    off += a[i, j] * a[i, j];
                }
            }
            total += 2 * off;
            if (off <= 1e-32 * total || off == 0.0)
            {
                break;
            }
            for (var p = 0; p < n - 1; p++)
            {
                for (var q = p + 1; q < n; q++)
                {
                    var apq = a[p, q];
                    if (apq == 0.0)
                    {
                        continue;
                    }
                    var theta = (a[q, q] - a[p, p]) / (2 * apq);
                    // For |θ| so large that θ² overflows, the exact t ≈ 1/(2θ) is below rounding: no rotation.
                    var t = double.IsFinite(theta * theta)
                        ? (theta >= 0 ? 1.0 : -1.0) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1))
                        : 0.0;
                    var c = 1 / Math.Sqrt(t * t + 1);
                    var s = t * c;
                    for (var k = 0; k < n; k++)
                    {
                        var akp = a[k, p];
                        var akq = a[k, q];
                        a[k, p] = c * akp - s * akq;
                        a[k, q] = s * akp + c * akq;
                    }
                    for (var k = 0; k < n; k++)
                    {
                        var apk = a[p, k];
                        var aqk = a[q, k];
                        a[p, k] = c * apk - s * aqk;
                        a[q, k] = s * apk + c * aqk;
                    }
                    for (var k = 0; k < n; k++)
                    {
                        var vkp = v[k, p];
                        var vkq = v[k, q];
                        v[k, p] = c * vkp - s * vkq;
                        v[k, q] = s * vkp + c * vkq;
                    }
                    // The rotation was chosen to annihilate this pair; store the exact zero instead of its rounding.
                    a[p, q] = a[q, p] = 0.0;
                }
            }
        }
        var values = new double[n];
        for (var i = 0; i < n; i++)
        {
            values[i] = a[i, i];
        }
        return (values, v);
    }

    /// <summary>V max(Λ, 0) Vᵀ: the nearest (Frobenius) positive semi-definite matrix to a symmetric matrix.</summary>
    public static double[,] ClipNegativeEigenvalues(double[,] matrix)
    {
        var n = matrix.GetLength(0);
        var (values, vectors) = SymmetricEigen(matrix);
        var result = new double[n, n];
        for (var k = 0; k < n; k++)
        {
            var lambda = values[k];
            if (lambda <= 0.0)
            {
                continue;
            }
            for (var i = 0; i < n; i++)
            {
                var vi = lambda * vectors[i, k];
                for (var j = 0; j < n; j++)
                {
                    result[i, j] += vi * vectors[j, k];
                }
            }
        }
        for (var i = 0; i < n; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                result[i, j] = result[j, i] = 0.5 * (result[i, j] + result[j, i]);
            }
        }
        return result;
    }

    /// <summary>
    /// The part of a (checked) Gramian the weighting solvers work on: the tasks with a non-zero gradient,
    /// scaled so that the largest squared norm is 1, made positive semi-definite if rounding broke that, and
    /// with the relative ridge ρ·diag(G) added.
    /// </summary>
    /// <param name="gramian">A Gramian that passed <see cref="GramianInput.Symmetrised"/>.</param>
    /// <param name="ridge">ρ ≥ 0.</param>
    public static PreparedGramian Prepare(double[,] gramian, double ridge)
    {
        var n = gramian.GetLength(0);
        var active = new List<int>(n);
        var scale = 0.0;
        for (var i = 0; i < n; i++)
        {
            if (gramian[i, i] > 0.0)
            {
                active.Add(i);
                scale = Math.Max(scale, gramian[i, i]);
            }
        }
        var m = active.Count;
        var normalized = new double[m, m];
        for (var a = 0; a < m; a++)
        {
            for (var b = 0; b < m; b++)
            {
                normalized[a, b] = gramian[active[a], active[b]] / scale;
            }
        }

        // Positive semi-definiteness is invariant under diagonal congruence, so it is tested (and repaired) on
        // the correlation matrix, where rounding is relative to each task's own norm even when norms differ by 1e6.
        var roots = new double[m];
        for (var a = 0; a < m; a++)
        {
            roots[a] = Math.Sqrt(normalized[a, a]);
        }
        var correlation = new double[m, m];
        for (var a = 0; a < m; a++)
        {
            for (var b = 0; b < m; b++)
            {
                correlation[a, b] = normalized[a, b] / (roots[a] * roots[b]);
            }
            correlation[a, a] = 1.0 + ridge;
        }
        var repaired = false;
        if (m > 0 && !TryCholesky(correlation, out _))
        {
            for (var a = 0; a < m; a++)
            {
                correlation[a, a] = 1.0;
            }
            var clipped = ClipNegativeEigenvalues(correlation);
            for (var a = 0; a < m; a++)
            {
                for (var b = 0; b < m; b++)
                {
                    normalized[a, b] = clipped[a, b] * roots[a] * roots[b];
                }
            }
            repaired = true;
        }
        var regularized = (double[,])normalized.Clone();
        for (var a = 0; a < m; a++)
        {
            regularized[a, a] += ridge * normalized[a, a];
        }
        return new PreparedGramian(active.ToArray(), scale, normalized, regularized, repaired);
    }
}

/// <summary>The output of <see cref="PsdGramian.Prepare"/>.</summary>
/// <param name="Active">Indices (into the original Gramian) of the tasks whose gradient is non-zero.</param>
/// <param name="Scale">The largest G[i, i]; the matrices below are divided by it.</param>
/// <param name="Normalized">G restricted to the active tasks, divided by <paramref name="Scale"/>, positive semi-definite.</param>
/// <param name="Regularized"><paramref name="Normalized"/> + ρ·diag(<paramref name="Normalized"/>).</param>
/// <param name="Repaired">Whether negative eigenvalues caused by rounding had to be clipped.</param>
internal sealed record PreparedGramian(int[] Active, double Scale, double[,] Normalized, double[,] Regularized, bool Repaired);
