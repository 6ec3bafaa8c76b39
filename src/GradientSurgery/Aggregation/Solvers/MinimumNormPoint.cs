namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// The minimum-norm point of the convex hull of T vectors given only their Gramian G: α on the simplex
/// minimising αᵀGα = ‖Σ α_i g_i‖², by Wolfe's active-set algorithm ("Finding the nearest point in a polytope",
/// Mathematical Programming 11, 1976) written in Gramian space.
/// </summary>
/// <remarks>
/// <para>
/// Wolfe's algorithm keeps a set S of affinely independent gradients ("corral") and weights α &gt; 0 on S.
/// A major cycle adds the gradient g_j that most violates optimality, (Gα)_j &lt; λ = αᵀGα; minor cycles move
/// α towards the minimiser of ‖d‖² over the affine hull of S and drop gradients whose weight reaches zero,
/// until α is that affine minimiser with all weights positive. It ends, after finitely many steps in exact
/// arithmetic, at the exact minimiser.
/// </para>
/// <para>
/// The affine minimiser is computed without ever adding quantities of different scales: if G_SS is positive
/// definite it is G_SS⁻¹1 / (1ᵀG_SS⁻¹1) (Cholesky, whose accuracy does not suffer when gradient norms differ by
/// many orders of magnitude); if G_SS is singular then, S being affinely independent, its null space is one
/// vector v with 1ᵀv ≠ 0, 0 lies in the affine hull of S, and the affine minimiser is v / 1ᵀv with norm 0. A
/// pivot below 10⁻¹³ G_kk (a squared sine between g_k and the span of the others) counts as singular.
/// (Reducing the problem to a non-negative least-squares problem through Lawson and Hanson's LDP construction
/// instead forms G/s + 11ᵀ, which loses the small gradients' information when norms differ by 10⁶ or more.)
/// </para>
/// <para>
/// Tolerance: see <see cref="RelativeKktResidual"/>; for a positive semi-definite G the weights meet
/// <see cref="Tolerance"/>. Hand-written, like <see cref="NonNegativeQuadraticProgram"/>, because T is tiny and
/// no package the project keeps solves such small dense problems without a heavy native dependency; an
/// active-set method also gives the exact minimiser rather than the approximate one of a fixed number of
/// Frank–Wolfe steps.
/// </para>
/// </remarks>
internal static class MinimumNormPoint
{
    /// <summary>The relative KKT tolerance the weights meet (see <see cref="RelativeKktResidual"/>).</summary>
    public const double Tolerance = 1e-10;

    /// <summary>
    /// The min-norm weights for a validated, symmetric Gramian: uniform if every gradient is zero (every α is
    /// then optimal), else a KKT point within <see cref="Tolerance"/>.
    /// </summary>
    public static double[] Weights(double[,] gramian)
    {
        var n = gramian.GetLength(0);
        var norms = new double[n];
        var first = 0;
        for (var i = 0; i < n; i++)
        {
            norms[i] = Math.Sqrt(gramian[i, i]);
            if (gramian[i, i] < gramian[first, first])
            {
                first = i;
            }
        }
        if (norms.All(norm => norm == 0))
        {
            return Enumerable.Repeat(1.0 / n, n).ToArray();
        }

        // Wolfe's start: the vertex of least norm.
        var alpha = new double[n];
        alpha[first] = 1;
        var corral = new List<int> { first };
        var refused = new bool[n];
        var maxMajor = 10 * n + 50;
        for (var major = 0; major < maxMajor; major++)
        {
            var product = DenseLinearAlgebra.Multiply(gramian, alpha);
            var lambda = 0.0;
            var weightedNorms = 0.0;
            foreach (var i in corral)
            {
                lambda += alpha[i] * product[i];
                weightedNorms += alpha[i] * norms[i];
            }
            var entering = -1;
            var worst = 0.0;
            for (var j = 0; j < n; j++)
            {
                if (alpha[j] > 0 || corral.Contains(j) || refused[j])
                {
                    continue;
                }
                var scale = (norms[j] + weightedNorms) * weightedNorms;
                var violation = (lambda - product[j]) / scale;
                if (violation > Tolerance && violation > worst)
                {
                    worst = violation;
                    entering = j;
                }
            }
            if (entering < 0)
            {
                break;
            }
            corral.Add(entering);

            for (var minor = 0; ; minor++)
            {
                var target = AffineMinimiser(gramian, corral, alpha);
                if (Array.TrueForAll(target, value => value > 0))
                {
                    for (var k = 0; k < corral.Count; k++)
                    {
                        alpha[corral[k]] = target[k];
                    }
                    Array.Clear(refused);
                    break;
                }
                var position = corral.IndexOf(entering);
                if (minor == 0 && position >= 0 && target[position] <= 0)
                {
                    // In exact arithmetic the entering gradient gets a positive weight (Wolfe, 1976); when
                    // rounding says otherwise it would leave at once, so skip it for this cycle.
                    corral.RemoveAt(position);
                    refused[entering] = true;
                    break;
                }
                // Move from α towards the affine minimiser until the first weight reaches zero.
                ActiveSet.StepTowards(alpha, corral, target);
                corral.RemoveAll(index => !(alpha[index] > 0));
                for (var j = 0; j < n; j++)
                {
                    alpha[j] = Math.Max(alpha[j], 0);
                }
                Renormalise(alpha);
            }
        }
        Renormalise(alpha);
        return alpha;
    }

    /// <summary>
    /// The KKT residual of α for min αᵀGα on the simplex, relative to the size of the terms involved:
    /// with d = Σ α_k g_k, λ = ‖d‖², S = Σ α_k ‖g_k‖ and r_j = (g_j − d)·d = (Gα)_j − λ, it is
    /// max_j v_j / ((‖g_j‖ + S) S), where v_j = |r_j| if α_j &gt; 0 and max(−r_j, 0) if α_j = 0 (since
    /// ‖d‖ ≤ S, the denominator bounds |r_j|). Infeasibility (α_j &lt; 0, or |Σα − 1|) is added in.
    /// </summary>
    public static double RelativeKktResidual(double[,] gramian, IReadOnlyList<double> alpha)
    {
        var n = alpha.Count;
        var sum = 0.0;
        var weightedNorms = 0.0;
        for (var k = 0; k < n; k++)
        {
            if (!(alpha[k] >= 0) || !double.IsFinite(alpha[k]))
            {
                return double.PositiveInfinity;
            }
            sum += alpha[k];
            weightedNorms += alpha[k] * Math.Sqrt(gramian[k, k]);
        }
        var product = DenseLinearAlgebra.Multiply(gramian, alpha);
        var lambda = 0.0;
        for (var k = 0; k < n; k++)
        {
            lambda += alpha[k] * product[k];
        }
        var worst = Math.Abs(sum - 1);
        for (var j = 0; j < n; j++)
        {
            var r = product[j] - lambda;
            var violation = alpha[j] > 0 ? Math.Abs(r) : Math.Max(-r, 0);
            var scale = (Math.Sqrt(gramian[j, j]) + weightedNorms) * weightedNorms;
            var relative = violation == 0 ? 0 : scale > 0 ? violation / scale : double.PositiveInfinity;
            worst = Math.Max(worst, relative);
        }
        return worst;
    }

    /// <summary>
    /// argmin ‖Σ y_k g_k‖² subject to Σ y_k = 1 over the corral (y indexed by corral position). A gradient
    /// found dependent on the ones before it, beyond the single null direction an affinely independent corral
    /// can have, is dropped from the corral (its weight moved to the others); this only happens through rounding.
    /// </summary>
    private static double[] AffineMinimiser(double[,] gramian, List<int> corral, double[] alpha)
    {
        var lastIsDependent = false;
        while (true)
        {
            var factor = new IncrementalCholesky(gramian, corral.Count);
            var dependent = -1;
            var extraDependent = -1;
            for (var k = 0; k < corral.Count; k++)
            {
                var isLast = k == corral.Count - 1;
                if ((lastIsDependent && isLast) || !factor.TryAppend(corral[k]))
                {
                    if (dependent < 0)
                    {
                        dependent = k;
                    }
                    else
                    {
                        extraDependent = k;
                        break;
                    }
                }
            }
            if (extraDependent >= 0)
            {
                alpha[corral[extraDependent]] = 0;
                corral.RemoveAt(extraDependent);
                Renormalise(alpha);
                continue;
            }
            var y = new double[corral.Count];
            var positions = factor.Indices.Select(index => corral.IndexOf(index)).ToArray();
            if (dependent < 0)
            {
                var z = factor.Solve(Enumerable.Repeat(1.0, corral.Count).ToArray());
                var total = z.Sum();
                if (!(total > 0) || !double.IsFinite(total))
                {
                    // 1ᵀG⁻¹1 > 0 for positive definite G; failing that, G_SS is singular in all but name.
                    lastIsDependent = true;
                    continue;
                }
                for (var k = 0; k < z.Length; k++)
                {
                    y[positions[k]] = z[k] / total;
                }
                return y;
            }
            // Null vector of G over the corral: 1 at the dependent gradient, −G_OO⁻¹ G_Ok on the others.
            var k0 = corral[dependent];
            var rhs = factor.Indices.Select(i => -gramian[i, k0]).ToArray();
            var v = factor.Solve(rhs);
            var sum = 1 + v.Sum();
            if (!(Math.Abs(sum) > 1e-12 * (1 + v.Sum(Math.Abs))))
            {
                // Affinely dependent as well: the corral lost Wolfe's invariant to rounding; drop the gradient.
                alpha[k0] = 0;
                corral.RemoveAt(dependent);
                Renormalise(alpha);
                continue;
            }
            y[dependent] = 1 / sum;
            for (var k = 0; k < v.Length; k++)
            {
                y[positions[k]] = v[k] / sum;
            }
            return y;
        }
    }

    private static void Renormalise(double[] alpha)
    {
        var total = alpha.Sum();
        if (total > 0)
        {
            for (var i = 0; i < alpha.Length; i++)
            {
                alpha[i] /= total;
            }
        }
    }
}
