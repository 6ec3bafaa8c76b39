namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// The preparation of a checked Gramian shared by the Nash-MTL, FairGrad and CAGrad solvers: dropping zero
/// gradients, normalising the scale, repairing rounding-induced indefiniteness and adding a relative ridge.
/// </summary>
internal static class PsdGramian
{
    /// <summary>
    /// The part of a (checked) Gramian the weighting solvers work on: the tasks with a non-zero gradient,
    /// scaled so that the largest squared norm is 1, made positive semi-definite if rounding broke that, and
    /// with the relative ridge ρ·diag(G) added.
    /// </summary>
    /// <param name="gramian">A Gramian that passed <see cref="CheckedGramian"/>.</param>
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
        if (m > 0 && !DenseLinearAlgebra.TryCholesky(correlation, out _))
        {
            for (var a = 0; a < m; a++)
            {
                correlation[a, a] = 1.0;
            }
            var clipped = DenseLinearAlgebra.ClipNegativeEigenvalues(correlation);
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
