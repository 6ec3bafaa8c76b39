namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// Gramian-space helpers: the gradient norms, the non-zero tasks and the unit-gradient (cosine) matrix. The
/// dense linear algebra on them is in <see cref="DenseLinearAlgebra"/>.
/// </summary>
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
}
