using GradientSurgery.Aggregation.Solvers;

namespace GradientSurgery.Aggregation;

/// <summary>
/// A T×T Gramian G = J Jᵀ that has passed the one check every Gramian weighting relies on: non-empty, square,
/// finite, a non-negative diagonal, symmetric and within Cauchy–Schwarz up to rounding. It holds the exactly
/// symmetric copy ½(G + Gᵀ), with the rows and columns of zero gradients (G_ii = 0) exactly zero.
/// </summary>
/// <remarks>
/// Tolerances: |G_ij − G_ji| ≤ 10⁻⁵ (√(G_ii G_jj) + |G_ij| + |G_ji|) + 10⁻¹² max_k G_kk and |G_ij| ≤
/// √(G_ii G_jj)(1 + 10⁻⁵) + 10⁻¹² max_k G_kk, relative to each entry's own scale so that a Gramian whose norms are
/// 10⁶ apart is judged as strictly on its small entries as on its large ones, and loose enough for a Gramian
/// computed in float32. The instance is immutable.
/// </remarks>
public sealed class CheckedGramian
{
    // Gramians computed in float32 (Jacobian.Gramian for float32/half Jacobians, or assembled by a caller) carry
    // errors of ~1e-7 relative to ‖g_i‖‖g_j‖ in entry [i, j]; the checks below only reject matrices that cannot be
    // a Gramian, not rounding.
    private const double Slack = 1e-5;

    // Absolute allowance, relative to the largest squared norm, for the dot products of a zero (or underflowed)
    // gradient, whose own scale √(G_ii G_jj) is 0.
    private const double Floor = 1e-12;

    private readonly double[,] _values;

    private CheckedGramian(double[,] values) => _values = values;

    /// <summary>Checks <paramref name="gramian"/> and keeps its symmetrised copy (the argument is not modified).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="gramian"/> is null.</exception>
    /// <exception cref="ArgumentException">The matrix cannot be the Gramian of real vectors; the message names the entry.</exception>
    public static CheckedGramian From(double[,] gramian) => new(Symmetrised(gramian, nameof(gramian)));

    /// <summary>The number of tasks T.</summary>
    public int TaskCount => _values.GetLength(0);

    /// <summary>G[i, j] = g_i · g_j.</summary>
    public double this[int i, int j] => _values[i, j];

    /// <summary>A copy of the checked, symmetric matrix.</summary>
    public double[,] ToArray() => (double[,])_values.Clone();

    /// <summary>The matrix itself, for the library's solvers, which only read it.</summary>
    internal double[,] Values => _values;

    private static double[,] Symmetrised(double[,] gramian, string parameterName)
    {
        GramianInput.RequireSquare(gramian, parameterName);
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
