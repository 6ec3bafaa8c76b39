namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// Minimises f(x) = ½ xᵀQx + cᵀx subject to x ≥ 0, for a symmetric positive semi-definite Q, by a primal
/// active-set method: Lawson and Hanson's NNLS algorithm (Solving Least Squares Problems, 1974, ch. 23) written
/// on the normal equations, as in Bro and de Jong's FNNLS (J. Chemometrics 11, 1997), so that it needs only Q
/// and c — for the aggregators, only the Gramian.
/// </summary>
/// <remarks>
/// <para>
/// Hand-written because the problems are tiny (T ≤ 100 variables) and dense, and no package the project keeps
/// solves such small quadratic programs without a heavy native dependency. An active-set method ends at an
/// exact vertex of the KKT system, so the answer is limited only by rounding, not by an iteration budget.
/// </para>
/// <para>
/// KKT conditions and tolerance. With g = Qx + c, the minimiser satisfies x ≥ 0, g ≥ 0 and g_j = 0 wherever
/// x_j &gt; 0. The solver stops when every g_j with x_j = 0 satisfies g_j ≥ −τ s_j, with
/// s_j = √Q_jj · Σ_k √Q_kk x_k + |c_j| (the size of the terms summed in g_j, bounded by Cauchy–Schwarz) and
/// τ = <see cref="DefaultTolerance"/> unless told otherwise; on the free variables g_j is zero up to the
/// rounding of a backward-stable Cholesky solve (about T·ε·s_j). This relative measure is invariant under
/// rescaling Q and c and under rescaling individual variables, so gradients whose norms differ by 10⁶ are
/// treated alike. <see cref="RelativeKktResidual"/> computes it. The guarantee assumes Q is positive
/// semi-definite; a Gramian computed in float32 can be indefinite at the 10⁻⁷ level, and the residual is then
/// of that order.
/// </para>
/// <para>
/// Singular Q (rank-deficient Jacobians, repeated or opposite gradients) is handled without regularisation:
/// the free set is kept linearly independent, as Lawson and Hanson's theory guarantees in exact arithmetic, by
/// refusing a variable whose column of Q is numerically in the span of the free ones (Schur complement
/// ≤ 10⁻¹³ Q_jj); for such a variable g_j is zero up to rounding anyway. The minimiser x may then be
/// non-unique, but Qx (the update direction's dot products) is unique. The caller must pose a problem bounded
/// below (c in the range of Q, or Q positive definite on the non-negative directions where cᵀx &lt; 0); a
/// variable with Q_jj = 0 and c_j &lt; 0 is reported as unbounded.
/// </para>
/// </remarks>
internal static class NonNegativeQuadraticProgram
{
    /// <summary>The default relative KKT tolerance τ (see the remarks).</summary>
    public const double DefaultTolerance = 1e-10;

    /// <summary>Solves the problem; returns x (every entry ≥ 0, exactly 0 on the active set).</summary>
    /// <param name="q">Symmetric positive semi-definite n×n matrix Q.</param>
    /// <param name="c">The linear term c (length n).</param>
    /// <param name="tolerance">The relative KKT tolerance τ, in (0, 1).</param>
    /// <exception cref="ArgumentException">Sizes disagree, an entry is not finite, or the problem is unbounded along a variable with Q_jj = 0.</exception>
    public static double[] Solve(double[,] q, IReadOnlyList<double> c, double tolerance = DefaultTolerance)
    {
        Validate(q, c);
        if (!(tolerance > 0 && tolerance < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must lie in (0, 1).");
        }
        var n = c.Count;
        var sqrtDiagonal = new double[n];
        for (var j = 0; j < n; j++)
        {
            if (q[j, j] <= 0 && c[j] < 0)
            {
                throw new ArgumentException(
                    $"The problem is unbounded below: Q[{j}, {j}] = {q[j, j]} but c[{j}] = {c[j]} < 0, so f decreases without end as x[{j}] grows.", nameof(c));
            }
            sqrtDiagonal[j] = Math.Sqrt(Math.Max(q[j, j], 0));
        }

        var x = new double[n];
        var gradient = new double[n];
        // The free (passive) variables in the order they were added, with the Cholesky factor of Q_FF.
        var free = new IncrementalCholesky(q, n);
        var refused = new bool[n];
        // Lawson and Hanson observe ~n/2 to 3n outer iterations; the cap only guards against rounding-induced
        // cycling, after which the current (feasible, best so far) point is returned.
        var maxOuter = 10 * n + 50;
        for (var outer = 0; outer < maxOuter; outer++)
        {
            ComputeGradient(q, c, x, gradient);
            var weightedSum = 0.0;
            for (var k = 0; k < n; k++)
            {
                weightedSum += sqrtDiagonal[k] * x[k];
            }
            var entering = -1;
            var steepest = 0.0;
            for (var j = 0; j < n; j++)
            {
                if (free.Contains(j) || refused[j] || sqrtDiagonal[j] == 0)
                {
                    continue;
                }
                var threshold = tolerance * (sqrtDiagonal[j] * weightedSum + Math.Abs(c[j]));
                // Steepest descent in variables scaled by √Q_jj, so the choice does not depend on units.
                var slope = -gradient[j] / sqrtDiagonal[j];
                if (gradient[j] < -threshold && slope > steepest)
                {
                    steepest = slope;
                    entering = j;
                }
            }
            if (entering < 0)
            {
                break;
            }
            if (!free.TryAppend(entering))
            {
                refused[entering] = true;
                continue;
            }

            for (var inner = 0; ; inner++)
            {
                var z = Minimiser(free, c);
                if (Array.TrueForAll(z, value => value > 0))
                {
                    for (var k = 0; k < z.Length; k++)
                    {
                        x[free[k]] = z[k];
                    }
                    Array.Clear(refused);
                    break;
                }
                if (inner == 0 && z[^1] <= 0)
                {
                    // In exact arithmetic the entering variable's new value is positive (Lawson and Hanson,
                    // ch. 23); when rounding says otherwise it would leave again at once, so skip it.
                    free.RemoveLast();
                    refused[entering] = true;
                    break;
                }
                // Walk from x towards z until the first free variable reaches zero.
                ActiveSet.StepTowards(x, free.Indices, z);
                for (var j = 0; j < n; j++)
                {
                    if (x[j] <= 0)
                    {
                        x[j] = 0;
                    }
                }
                foreach (var dropped in Rebuild(free, x))
                {
                    x[dropped] = 0;
                }
            }
        }
        return x;
    }

    /// <summary>
    /// max_j of the KKT violation of x relative to s_j (see the remarks): |g_j| where x_j &gt; 0, max(−g_j, 0)
    /// where x_j = 0; +∞ if x is infeasible or not finite.
    /// </summary>
    public static double RelativeKktResidual(double[,] q, IReadOnlyList<double> c, IReadOnlyList<double> x)
    {
        Validate(q, c);
        ArgumentNullException.ThrowIfNull(x);
        if (x.Count != c.Count)
        {
            throw new ArgumentException($"Expected {c.Count} entries in x, got {x.Count}.", nameof(x));
        }
        var n = c.Count;
        var weightedSum = 0.0;
        for (var k = 0; k < n; k++)
        {
            if (!(x[k] >= 0) || double.IsPositiveInfinity(x[k]))
            {
                return double.PositiveInfinity;
            }
            weightedSum += Math.Sqrt(Math.Max(q[k, k], 0)) * x[k];
        }
        var worst = 0.0;
        for (var j = 0; j < n; j++)
        {
            var g = c[j];
            for (var k = 0; k < n; k++)
            {
                g += q[j, k] * x[k];
            }
            var violation = x[j] > 0 ? Math.Abs(g) : Math.Max(-g, 0);
            var scale = Math.Sqrt(Math.Max(q[j, j], 0)) * weightedSum + Math.Abs(c[j]);
            var relative = violation == 0 ? 0 : scale > 0 ? violation / scale : double.PositiveInfinity;
            worst = Math.Max(worst, relative);
        }
        return worst;
    }

    private static void ComputeGradient(double[,] q, IReadOnlyList<double> c, double[] x, double[] gradient)
    {
        var n = x.Length;
        for (var j = 0; j < n; j++)
        {
            var sum = c[j];
            for (var k = 0; k < n; k++)
            {
                if (x[k] != 0)
                {
                    sum += q[j, k] * x[k];
                }
            }
            gradient[j] = sum;
        }
    }

    private static void Validate(double[,] q, IReadOnlyList<double> c)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(c);
        if (q.GetLength(0) != q.GetLength(1) || q.GetLength(0) != c.Count)
        {
            throw new ArgumentException(
                $"Q must be n×n with n = {c.Count} (the length of c), but it is {q.GetLength(0)}×{q.GetLength(1)}.", nameof(q));
        }
        for (var j = 0; j < c.Count; j++)
        {
            if (!double.IsFinite(c[j]))
            {
                throw new ArgumentException($"c[{j}] = {c[j]} is not finite.", nameof(c));
            }
            for (var k = 0; k < c.Count; k++)
            {
                if (!double.IsFinite(q[j, k]))
                {
                    throw new ArgumentException($"Q[{j}, {k}] = {q[j, k]} is not finite.", nameof(q));
                }
            }
        }
    }

    /// <summary>Keeps the free variables with x &gt; 0 and refactors; returns any that turned out dependent.</summary>
    private static List<int> Rebuild(IncrementalCholesky free, double[] x)
    {
        var kept = free.Indices.Where(i => x[i] > 0).ToArray();
        free.Clear();
        var dropped = new List<int>();
        foreach (var i in kept)
        {
            if (!free.TryAppend(i))
            {
                dropped.Add(i);
            }
        }
        return dropped;
    }

    /// <summary>The unconstrained minimiser on the free set F, z = −Q_FF⁻¹ c_F.</summary>
    private static double[] Minimiser(IncrementalCholesky free, IReadOnlyList<double> c)
    {
        var rhs = new double[free.Count];
        for (var k = 0; k < rhs.Length; k++)
        {
            rhs[k] = -c[free[k]];
        }
        return free.Solve(rhs);
    }
}
