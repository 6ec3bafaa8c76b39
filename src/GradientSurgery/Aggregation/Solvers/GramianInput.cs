namespace GradientSurgery.Aggregation.Solvers;

/// <summary>Checks a Gramian handed to a weighting and returns the exactly symmetric copy the solvers work on.</summary>
internal static class GramianInput
{
    // Gramians computed in float32 (Jacobian.Gramian for float32/half Jacobians) carry relative errors of ~1e-7;
    // the checks below only reject matrices that cannot be a Gramian, not rounding.
    private const double Slack = 1e-5;

    /// <summary>
    /// Validates <paramref name="gramian"/> (non-empty, square, finite, non-negative diagonal, symmetric and
    /// satisfying |G_ij| ≤ √(G_ii G_jj) up to rounding) and returns ½(G + Gᵀ), with the rows and columns of
    /// zero gradients (G_ii = 0) exactly zero.
    /// </summary>
    /// <exception cref="ArgumentException">The matrix cannot be the Gramian of real vectors; the message names the entry.</exception>
    public static double[,] Symmetrised(double[,] gramian, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(gramian, parameterName);
        var n = gramian.GetLength(0);
        if (n != gramian.GetLength(1) || n < 1)
        {
            throw new ArgumentException(
                $"The Gramian must be a non-empty square matrix, but it is {gramian.GetLength(0)}×{gramian.GetLength(1)}.", parameterName);
        }
        var maxDiagonal = 0.0;
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                if (!double.IsFinite(gramian[i, j]))
                {
                    throw new ArgumentException($"Gramian entry [{i}, {j}] = {gramian[i, j]} is not finite.", parameterName);
                }
            }
            if (gramian[i, i] < 0)
            {
                throw new ArgumentException(
                    $"Gramian diagonal entry [{i}, {i}] = {gramian[i, i]} is negative; a squared gradient norm cannot be.", parameterName);
            }
            maxDiagonal = Math.Max(maxDiagonal, gramian[i, i]);
        }
        var result = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var a = gramian[i, j];
                var b = gramian[j, i];
                if (Math.Abs(a - b) > Slack * maxDiagonal)
                {
                    throw new ArgumentException($"The Gramian is not symmetric: [{i}, {j}] = {a} but [{j}, {i}] = {b}.", parameterName);
                }
                var value = 0.5 * (a + b);
                var bound = Math.Sqrt(gramian[i, i] * gramian[j, j]);
                if (Math.Abs(value) > bound * (1 + Slack) + 1e-12 * maxDiagonal)
                {
                    throw new ArgumentException(
                        $"Gramian entry [{i}, {j}] = {value} exceeds √(G[{i},{i}]·G[{j},{j}]) = {bound}, so the matrix is not positive semi-definite.",
                        parameterName);
                }
                // A zero gradient has zero dot products; clearing rounding residue keeps the QPs bounded.
                result[i, j] = bound == 0 ? 0 : value;
            }
        }
        return result;
    }

    /// <summary>vᵀGv.</summary>
    public static double Quadratic(double[,] gramian, IReadOnlyList<double> v)
    {
        var n = v.Count;
        var sum = 0.0;
        for (var i = 0; i < n; i++)
        {
            var row = 0.0;
            for (var j = 0; j < n; j++)
            {
                row += gramian[i, j] * v[j];
            }
            sum += v[i] * row;
        }
        return sum;
    }

    /// <summary>Gv.</summary>
    public static double[] Multiply(double[,] gramian, IReadOnlyList<double> v)
    {
        var n = v.Count;
        var result = new double[n];
        for (var i = 0; i < n; i++)
        {
            var row = 0.0;
            for (var j = 0; j < n; j++)
            {
                row += gramian[i, j] * v[j];
            }
            result[i] = row;
        }
        return result;
    }
}
