namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// Small dense linear algebra on T×T Gramians in float64: unit-gradient (cosine) matrices and a
/// symmetric eigendecomposition.
/// </summary>
/// <remarks>
/// The eigendecomposition is a hand-written cyclic Jacobi method. T is at most a few hundred, so its O(T³) per
/// sweep is negligible next to the Gramian product, and no package kept by this project offers a managed
/// symmetric eigensolver (libtorch's would mean a round trip through native tensors for a tiny matrix). Jacobi
/// is also the accurate choice here: on positive semi-definite matrices it computes even the small eigenvalues
/// to high relative accuracy when the matrix is badly scaled (Demmel and Veselić, 1992), which is exactly the
/// situation of task gradients whose norms differ by orders of magnitude.
/// </remarks>
internal static class GramianMath
{
    /// <summary>The gradient norms ‖g_i‖ = √G_ii.</summary>
    public static double[] Norms(double[,] gramian)
    {
        var n = gramian.GetLength(0);
        var norms = new double[n];
        for (var i = 0; i < n; i++)
        {
            norms[i] = Math.Sqrt(gramian[i, i]);
        }
        return norms;
    }

    /// <summary>The indices of the tasks whose gradient is not zero (G_ii &gt; 0).</summary>
    public static int[] NonZeroTasks(double[,] gramian)
    {
        var n = gramian.GetLength(0);
        var tasks = new List<int>(n);
        for (var i = 0; i < n; i++)
        {
            if (gramian[i, i] > 0.0)
            {
                tasks.Add(i);
            }
        }
        return tasks.ToArray();
    }

    /// <summary>
    /// The Gramian of the unit gradients u_a = g_a/‖g_a‖ of the listed (non-zero) tasks: the cosine matrix
    /// C[a, b] = G[a, b] / (‖g_a‖ ‖g_b‖), with an exact unit diagonal and entries clamped to [−1, 1].
    /// </summary>
    /// <remarks>The clamp only removes rounding beyond Cauchy–Schwarz; it never changes a representable cosine.</remarks>
    public static double[,] CosineMatrix(double[,] gramian, IReadOnlyList<int> tasks)
    {
        var m = tasks.Count;
        var cosines = new double[m, m];
        for (var a = 0; a < m; a++)
        {
            cosines[a, a] = 1.0;
            var normA = Math.Sqrt(gramian[tasks[a], tasks[a]]);
            for (var b = a + 1; b < m; b++)
            {
                var normB = Math.Sqrt(gramian[tasks[b], tasks[b]]);
                // Dividing by each norm separately keeps tiny and huge norms from under- or overflowing their product.
                var cosine = Math.Clamp(gramian[tasks[a], tasks[b]] / normA / normB, -1.0, 1.0);
                cosines[a, b] = cosine;
                cosines[b, a] = cosine;
            }
        }
        return cosines;
    }

    /// <summary>
    /// The eigendecomposition A = V diag(λ) Vᵀ of a symmetric matrix, by the cyclic Jacobi method, with the
    /// eigenvalues in descending order and V orthogonal (column k is the eigenvector of λ_k).
    /// </summary>
    /// <remarks>
    /// A rotation is skipped once |a_pq| ≤ ε·√(|a_pp a_qq|) (ε the float64 machine epsilon), the relative
    /// criterion under which Jacobi keeps its high relative accuracy; the sweeps stop when a whole sweep skips
    /// every pair. Only the upper triangle is read.
    /// </remarks>
    public static (double[] Values, double[,] Vectors) SymmetricEigen(double[,] matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var n = matrix.GetLength(0);
        if (n != matrix.GetLength(1))
        {
            throw new ArgumentException($"Expected a square matrix, got {matrix.GetLength(0)}×{matrix.GetLength(1)}.", nameof(matrix));
        }
        // Flat row-major copies: the rotations touch two rows and two columns at a time, and one-dimensional
        // arrays avoid the bounds-check cost of double[,] in these inner loops.
        var a = new double[n * n];
        var v = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            v[i * n + i] = 1.0;
            for (var j = i; j < n; j++)
            {
                a[i * n + j] = matrix[i, j];
                a[j * n + i] = matrix[i, j];
            }
        }

        const int maxSweeps = 100;
        for (var sweep = 0; sweep < maxSweeps; sweep++)
        {
            var rotated = false;
            for (var p = 0; p < n - 1; p++)
            {
                for (var q = p + 1; q < n; q++)
                {
                    var apq = a[p * n + q];
                    if (apq == 0.0 || Math.Abs(apq) <= Eps * Math.Sqrt(Math.Abs(a[p * n + p])) * Math.Sqrt(Math.Abs(a[q * n + q])))
                    {
                        continue;
                    }
                    rotated = true;
                    Rotate(a, v, p, q, n);
                }
            }
            if (!rotated)
            {
                break;
            }
        }

        var order = Enumerable.Range(0, n).OrderByDescending(k => a[k * n + k]).ToArray();
        var sortedValues = new double[n];
        var sortedVectors = new double[n, n];
        for (var k = 0; k < n; k++)
        {
            sortedValues[k] = a[order[k] * n + order[k]];
            for (var i = 0; i < n; i++)
            {
                sortedVectors[i, k] = v[i * n + order[k]];
            }
        }
        return (sortedValues, sortedVectors);
    }

    /// <summary>The float64 machine epsilon 2⁻⁵², the gap between 1 and the next double.</summary>
    public const double Eps = 2.220446049250313e-16;

    private static void Rotate(double[] a, double[] v, int p, int q, int n)
    {
        // The symmetric Schur decomposition of the 2×2 block (Golub and Van Loan, Algorithm 8.4.1): the rotation
        // J = [[c, s], [−s, c]] in the (p, q) plane with t = s/c the smaller root, so that (JᵀAJ)_pq = 0.
        var apq = a[p * n + q];
        var tau = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
        double t;
        if (Math.Abs(tau) > 1e150)
        {
            // √(1 + τ²) would overflow; t ≈ 1/(2τ) to full precision there.
            t = 0.5 / tau;
        }
        else
        {
            t = (tau >= 0.0 ? 1.0 : -1.0) / (Math.Abs(tau) + Math.Sqrt(1.0 + tau * tau));
        }
        var c = 1.0 / Math.Sqrt(1.0 + t * t);
        var s = t * c;

        a[p * n + p] -= t * apq;
        a[q * n + q] += t * apq;
        a[p * n + q] = 0.0;
        a[q * n + p] = 0.0;
        var rowP = a.AsSpan(p * n, n);
        var rowQ = a.AsSpan(q * n, n);
        for (var k = 0; k < n; k++)
        {
            if (k != p && k != q)
            {
                var akp = rowP[k];
                var akq = rowQ[k];
                var newKp = c * akp - s * akq;
                var newKq = s * akp + c * akq;
                // Row and column updates of the symmetric matrix.
                rowP[k] = newKp;
                a[k * n + p] = newKp;
                rowQ[k] = newKq;
                a[k * n + q] = newKq;
            }
            var vkp = v[k * n + p];
            var vkq = v[k * n + q];
            v[k * n + p] = c * vkp - s * vkq;
            v[k * n + q] = s * vkp + c * vkq;
        }
    }
}
