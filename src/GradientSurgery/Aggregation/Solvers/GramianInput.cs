namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// The one check of a Gramian handed to an aggregator or weighting: <see cref="Symmetrised"/> validates it and
/// returns the exactly symmetric copy the methods work on; <see cref="RequireSquare"/> checks only its shape, for
/// the methods that are defined for any square matrix.
/// </summary>
internal static class GramianInput
{
    // Gramians computed in float32 (Jacobian.Gramian for float32/half Jacobians, or assembled by a caller) carry
    // errors of ~1e-7 relative to ‖g_i‖‖g_j‖ in entry [i, j]; the checks below only reject matrices that cannot be
    // a Gramian, not rounding.
    private const double Slack = 1e-5;

    // Absolute allowance, relative to the largest squared norm, for the dot products of a zero (or underflowed)
    // gradient, whose own scale √(G_ii G_jj) is 0.
    private const double Floor = 1e-12;

    /// <summary>Throws unless <paramref name="gramian"/> is a non-empty square matrix.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="gramian"/> is null.</exception>
    /// <exception cref="ArgumentException">The matrix is empty or not square.</exception>
    public static void RequireSquare(double[,] gramian, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(gramian, parameterName);
        if (gramian.GetLength(0) != gramian.GetLength(1) || gramian.GetLength(0) < 1)
        {
            throw new ArgumentException(
                $"The Gramian must be a non-empty square matrix, but it is {gramian.GetLength(0)}×{gramian.GetLength(1)}.", parameterName);
        }
    }

    /// <summary>
    /// Validates <paramref name="gramian"/> and returns ½(G + Gᵀ), with the rows and columns of zero gradients
    /// (G_ii = 0) exactly zero. A Gramian must be non-empty, square and finite, with a non-negative diagonal; it
    /// must be symmetric, |G_ij − G_ji| ≤ 10⁻⁵ (√(G_ii G_jj) + |G_ij| + |G_ji|) + 10⁻¹² max_k G_kk, and satisfy
    /// Cauchy–Schwarz, |G_ij| ≤ √(G_ii G_jj) (1 + 10⁻⁵) + 10⁻¹² max_k G_kk.
    /// </summary>
    /// <remarks>
    /// The tolerances are relative to each entry's own scale √(G_ii G_jj), so that a badly scaled Gramian (norms
    /// 10⁶ apart) is judged as strictly on its small entries as on its large ones.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="gramian"/> is null.</exception>
    /// <exception cref="ArgumentException">The matrix cannot be the Gramian of real vectors; the message names the entry.</exception>
    public static double[,] Symmetrised(double[,] gramian, string parameterName)
    {
        RequireSquare(gramian, parameterName);
        var n = gramian.GetLength(0);
        var maxDiagonal = 0.0;
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                if (!double.IsFinite(gramian[i, j]))
                {
                    throw new ArgumentException(
                        $"The Gramian has a non-finite entry G[{i}, {j}]: G[{i}, {j}] is {gramian[i, j]}, which is not finite.", parameterName);
                }
            }
            if (gramian[i, i] < 0.0)
            {
                throw new ArgumentException(
                    $"The Gramian has a negative diagonal entry G[{i}, {i}] = {gramian[i, i]}, but a squared gradient norm cannot be negative.",
                    parameterName);
            }
            maxDiagonal = Math.Max(maxDiagonal, gramian[i, i]);
        }
        var floor = Floor * maxDiagonal;
        var result = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            result[i, i] = gramian[i, i];
            for (var j = i + 1; j < n; j++)
            {
                var a = gramian[i, j];
                var b = gramian[j, i];
                var bound = Math.Sqrt(gramian[i, i] * gramian[j, j]);
                if (Math.Abs(a - b) > Slack * (bound + Math.Abs(a) + Math.Abs(b)) + floor)
                {
                    throw new ArgumentException($"The Gramian is not symmetric: G[{i}, {j}] = {a} but G[{j}, {i}] = {b}.", parameterName);
                }
                var value = 0.5 * (a + b);
                if (Math.Abs(value) > bound * (1 + Slack) + floor)
                {
                    throw new ArgumentException(
                        $"The Gramian entry G[{i}, {j}] = {value} exceeds √(G[{i}, {i}]·G[{j}, {j}]) = {bound}, so the matrix is not positive semi-definite.",
                        parameterName);
                }
                // A zero gradient has zero dot products; clearing rounding residue keeps the solvers' problems bounded.
                result[i, j] = result[j, i] = bound == 0 ? 0 : value;
            }
        }
        return result;
    }
}
