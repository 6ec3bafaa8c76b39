namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// The dense float64 linear algebra of the T×T solvers, in one place: products (plain and compensated),
/// Cholesky factorisation and solves, and a symmetric eigendecomposition.
/// </summary>
/// <remarks>
/// <para>
/// Hand-written because T is at most a few hundred, so these O(T³) loops are negligible next to the Gramian
/// product, and no package kept by this project offers managed dense solvers (libtorch's would mean a round trip
/// through native tensors for a tiny matrix).
/// </para>
/// <para>
/// The eigendecomposition is the cyclic Jacobi method. Jacobi is the accurate choice here: on positive
/// semi-definite matrices it computes even the small eigenvalues to high relative accuracy when the matrix is
/// badly scaled (Demmel and Veselić, 1992), which is exactly the situation of task gradients whose norms differ
/// by orders of magnitude.
/// </para>
/// </remarks>
internal static class DenseLinearAlgebra
{
    /// <summary>The float64 machine epsilon 2⁻⁵², the gap between 1 and the next double.</summary>
    public const double Eps = 2.220446049250313e-16;

    /// <summary>xᵀy.</summary>
    public static double Dot(double[] x, double[] y)
    {
        var sum = 0.0;
        for (var i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }
        return sum;
    }

    /// <summary>Av for a square <paramref name="a"/> whose order is the length of <paramref name="v"/>.</summary>
    public static double[] Multiply(double[,] a, IReadOnlyList<double> v)
    {
        var n = v.Count;
        var result = new double[n];
        for (var i = 0; i < n; i++)
        {
            var row = 0.0;
            for (var j = 0; j < n; j++)
            {
                row += a[i, j] * v[j];
            }
            result[i] = row;
        }
        return result;
    }

    /// <summary>vᵀAv.</summary>
    public static double Quadratic(double[,] a, double[] v)
    {
        var n = v.Length;
        var sum = 0.0;
        for (var i = 0; i < n; i++)
        {
            var row = 0.0;
            for (var j = 0; j < n; j++)
            {
                row += a[i, j] * v[j];
            }
            sum += v[i] * row;
        }
        return sum;
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
    /// The lower Cholesky factor of <paramref name="matrix"/>, or false when a pivot is not positive (the
    /// matrix is not numerically positive definite) or not finite.
    /// </summary>
    public static bool TryCholesky(double[,] matrix, out double[,] lower)
    {
        var n = matrix.GetLength(0);
        var factor = new IncrementalCholesky(matrix, n, dependenceThreshold: 0.0);
        lower = factor.Factor;
        for (var j = 0; j < n; j++)
        {
            if (!factor.TryAppend(j))
            {
                return false;
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

    /// <summary>
    /// Solves L Lᵀ x = <paramref name="rhs"/> by forward and back substitution, with L the leading n×n block of
    /// <paramref name="lower"/> (n the length of <paramref name="rhs"/>).
    /// </summary>
    public static double[] CholeskySolve(double[,] lower, double[] rhs)
    {
        var n = rhs.Length;
        var x = new double[n];
        for (var i = 0; i < n; i++)
        {
            var sum = rhs[i];
            for (var k = 0; k < i; k++)
            {
                sum -= lower[i, k] * x[k];
            }
            x[i] = sum / lower[i, i];
        }
        for (var i = n - 1; i >= 0; i--)
        {
            var sum = x[i];
            for (var k = i + 1; k < n; k++)
            {
                sum -= lower[k, i] * x[k];
            }
            x[i] = sum / lower[i, i];
        }
        return x;
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

/// <summary>
/// The Cholesky factor L (Q_SS = L Lᵀ) of a symmetric matrix Q restricted to an ordered set S of indices, grown
/// one index at a time and refusing an index whose column is numerically in the span of the others. The active-set
/// solvers (<see cref="NonNegativeQuadraticProgram"/>, <see cref="MinimumNormPoint"/>) keep their free set in it;
/// removing indices means clearing and appending again, O(|S|³), negligible at these sizes.
/// </summary>
internal sealed class IncrementalCholesky
{
    /// <summary>
    /// sin² of the angle between a column and the span of the others below which the active-set solvers treat it
    /// as dependent: rounding alone makes this ~T·ε ≈ 1e-14 for exactly dependent columns.
    /// </summary>
    public const double DependenceThreshold = 1e-13;

    private readonly double[,] _matrix;
    private readonly double[,] _factor;
    private readonly List<int> _indices;
    private readonly bool[] _member;
    private readonly double _dependenceThreshold;

    /// <summary>An empty factorisation of <paramref name="matrix"/> with room for <paramref name="capacity"/> indices.</summary>
    /// <param name="matrix">The symmetric matrix Q; only the entries of appended indices are read.</param>
    /// <param name="capacity">The largest number of indices appended at once.</param>
    /// <param name="dependenceThreshold">
    /// An index j is refused when its pivot (the squared distance of its column to the span of the others) is not
    /// above this times Q_jj; 0 refuses only non-positive (or non-finite) pivots, as a plain Cholesky does.
    /// </param>
    public IncrementalCholesky(double[,] matrix, int capacity, double dependenceThreshold = DependenceThreshold)
    {
        _matrix = matrix;
        _factor = new double[capacity, capacity];
        _indices = new List<int>(capacity);
        _member = new bool[matrix.GetLength(0)];
        _dependenceThreshold = dependenceThreshold;
    }

    /// <summary>The number of indices in the set.</summary>
    public int Count => _indices.Count;

    /// <summary>The index at <paramref name="position"/> in the order of appending.</summary>
    public int this[int position] => _indices[position];

    /// <summary>The indices in the order of appending.</summary>
    public IReadOnlyList<int> Indices => _indices;

    /// <summary>The factor: its leading <see cref="Count"/>×<see cref="Count"/> lower triangle is L.</summary>
    public double[,] Factor => _factor;

    /// <summary>Whether <paramref name="index"/> is in the set.</summary>
    public bool Contains(int index) => _member[index];

    /// <summary>Appends <paramref name="index"/> (extending L by one row) unless its column is numerically dependent on the set's.</summary>
    public bool TryAppend(int index)
    {
        var p = _indices.Count;
        var sumOfSquares = 0.0;
        for (var r = 0; r < p; r++)
        {
            var value = _matrix[_indices[r], index];
            for (var k = 0; k < r; k++)
            {
                value -= _factor[r, k] * _factor[p, k];
            }
            value /= _factor[r, r];
            _factor[p, r] = value;
            sumOfSquares += value * value;
        }
        var pivot = _matrix[index, index] - sumOfSquares;
        if (!(pivot > _dependenceThreshold * _matrix[index, index]) || !double.IsFinite(pivot))
        {
            return false;
        }
        _factor[p, p] = Math.Sqrt(pivot);
        _indices.Add(index);
        _member[index] = true;
        return true;
    }

    /// <summary>Removes the index appended last.</summary>
    public void RemoveLast()
    {
        _member[_indices[^1]] = false;
        _indices.RemoveAt(_indices.Count - 1);
    }

    /// <summary>Empties the set.</summary>
    public void Clear()
    {
        foreach (var i in _indices)
        {
            _member[i] = false;
        }
        _indices.Clear();
    }

    /// <summary>Solves Q_SS z = <paramref name="rhs"/> (entries in the order of appending), with one step of iterative refinement.</summary>
    public double[] Solve(double[] rhs)
    {
        var p = rhs.Length;
        var z = DenseLinearAlgebra.CholeskySolve(_factor, rhs);
        // One refinement step recovers accuracy lost to an ill-conditioned set at O(p²) cost.
        var residual = new double[p];
        for (var r = 0; r < p; r++)
        {
            var sum = rhs[r];
            for (var k = 0; k < p; k++)
            {
                sum -= _matrix[_indices[r], _indices[k]] * z[k];
            }
            residual[r] = sum;
        }
        var correction = DenseLinearAlgebra.CholeskySolve(_factor, residual);
        for (var k = 0; k < p; k++)
        {
            z[k] += correction[k];
        }
        return z;
    }
}

/// <summary>The step shared by the primal active-set solvers (<see cref="NonNegativeQuadraticProgram"/>, <see cref="MinimumNormPoint"/>).</summary>
internal static class ActiveSet
{
    /// <summary>
    /// Moves the free entries x[indices[k]] from their current (positive) values towards target[k] by the largest
    /// step in (0, 1] that keeps them non-negative, and sets the entry that reaches zero first to exactly 0.
    /// Some target must be ≤ 0.
    /// </summary>
    public static void StepTowards(double[] x, IReadOnlyList<int> indices, double[] target)
    {
        var step = 1.0;
        var blocking = -1;
        for (var k = 0; k < target.Length; k++)
        {
            if (target[k] <= 0)
            {
                var current = x[indices[k]];
                var ratio = current / (current - target[k]);
                if (blocking < 0 || ratio < step)
                {
                    step = ratio;
                    blocking = indices[k];
                }
            }
        }
        for (var k = 0; k < target.Length; k++)
        {
            var index = indices[k];
            x[index] += step * (target[k] - x[index]);
        }
        x[blocking] = 0;
    }
}
