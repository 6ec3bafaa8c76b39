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

    /// <summary>
    /// β = C⁺1, the pseudo-inverse of a symmetric matrix C applied to the all-ones vector, from C's eigendecomposition
    /// (eigenvalues in descending order, eigenvectors in the columns of <paramref name="vectors"/>); eigenvalues up to
    /// <paramref name="tolerance"/> count as zero.
    /// </summary>
    /// <param name="values">C's eigenvalues, descending.</param>
    /// <param name="vectors">C's eigenvectors, one per column.</param>
    /// <param name="tolerance">Eigenvalues up to this count as zero.</param>
    /// <param name="onesInRange">‖P 1‖², the squared length of 1's component in the range of C.</param>
    /// <param name="onesQuadraticForm">1ᵀC⁺1 (= Σ_a β_a), accumulated per eigenvalue.</param>
    public static double[] PseudoInverseTimesOnes(double[] values, double[,] vectors, double tolerance, out double onesInRange, out double onesQuadraticForm)
    {
        var m = values.Length;
        var beta = new double[m];
        onesInRange = 0.0;
        onesQuadraticForm = 0.0;
        for (var k = 0; k < m; k++)
        {
            if (values[k] > tolerance)
            {
                var coefficient = ColumnSum(vectors, k, m);
                onesInRange += coefficient * coefficient;
                onesQuadraticForm += coefficient * coefficient / values[k];
                AddScaledColumn(beta, vectors, k, m, coefficient / values[k]);
            }
        }
        return beta;
    }

    /// <summary>Σ_a vectors[a, column] over the first <paramref name="m"/> rows.</summary>
    public static double ColumnSum(double[,] vectors, int column, int m)
    {
        var sum = 0.0;
        for (var a = 0; a < m; a++)
        {
            sum += vectors[a, column];
        }
        return sum;
    }

    /// <summary>target[a] += scale · vectors[a, column] for the first <paramref name="m"/> rows.</summary>
    public static void AddScaledColumn(double[] target, double[,] vectors, int column, int m, double scale)
    {
        for (var a = 0; a < m; a++)
        {
            target[a] += scale * vectors[a, column];
        }
    }
}
