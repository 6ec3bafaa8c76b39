namespace GradientSurgery.Tests.Aggregation.Solvers;

/// <summary>Managed float64 matrices for the solver tests (no libtorch needed).</summary>
internal static class DenseTestMatrices
{
    /// <summary>A T×P matrix of standard normal entries (Box–Muller on a seeded <see cref="Random"/>).</summary>
    public static double[,] Gaussian(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var result = new double[rows, columns];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                var u1 = 1.0 - random.NextDouble();
                var u2 = random.NextDouble();
                result[i, j] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            }
        }
        return result;
    }

    /// <summary>G = J Jᵀ, exactly symmetric.</summary>
    public static double[,] Gram(double[,] jacobian)
    {
        var t = jacobian.GetLength(0);
        var p = jacobian.GetLength(1);
        var g = new double[t, t];
        for (var i = 0; i < t; i++)
        {
            for (var j = i; j < t; j++)
            {
                var sum = 0.0;
                for (var k = 0; k < p; k++)
                {
                    sum += jacobian[i, k] * jacobian[j, k];
                }
                g[i, j] = g[j, i] = sum;
            }
        }
        return g;
    }

    public static double[] Times(double[,] matrix, double[] vector)
    {
        var n = matrix.GetLength(0);
        var result = new double[n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < vector.Length; j++)
            {
                result[i] += matrix[i, j] * vector[j];
            }
        }
        return result;
    }

    /// <summary>wᵀJ, the update as a P-vector.</summary>
    public static double[] Combine(double[,] jacobian, double[] weights)
    {
        var p = jacobian.GetLength(1);
        var result = new double[p];
        for (var i = 0; i < weights.Length; i++)
        {
            for (var k = 0; k < p; k++)
            {
                result[k] += weights[i] * jacobian[i, k];
            }
        }
        return result;
    }

    public static double Dot(double[] x, double[] y)
    {
        var sum = 0.0;
        for (var i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }
        return sum;
    }

    public static double[,] ScaleRows(double[,] jacobian, params double[] factors)
    {
        var result = (double[,])jacobian.Clone();
        for (var i = 0; i < factors.Length; i++)
        {
            for (var k = 0; k < jacobian.GetLength(1); k++)
            {
                result[i, k] *= factors[i];
            }
        }
        return result;
    }

    /// <summary>max_i |w_i^p (A w)_i − 1| over the tasks with w_i &gt; 0, recomputed independently of the solver.</summary>
    public static double BargainingResidual(double[,] a, double[] w, double p)
    {
        // Accumulated in double-double (TwoSum/TwoProduct) so that the check itself is not limited by cancellation.
        var n = w.Length;
        var aw = new double[n];
        for (var i = 0; i < n; i++)
        {
            double hi = 0, lo = 0;
            for (var j = 0; j < n; j++)
            {
                var prod = a[i, j] * w[j];
                lo += Math.FusedMultiplyAdd(a[i, j], w[j], -prod);
                var s = hi + prod;
                var bp = s - hi;
                lo += (hi - (s - bp)) + (prod - bp);
                hi = s;
            }
            aw[i] = hi + lo;
        }
        var worst = 0.0;
        for (var i = 0; i < w.Length; i++)
        {
            if (a[i, i] > 0)
            {
                worst = Math.Max(worst, Math.Abs(Math.Pow(w[i], p) * aw[i] - 1));
            }
        }
        return worst;
    }

    /// <summary>G + ρ·diag(G).</summary>
    public static double[,] WithRidge(double[,] g, double ridge)
    {
        var result = (double[,])g.Clone();
        for (var i = 0; i < g.GetLength(0); i++)
        {
            result[i, i] *= 1 + ridge;
        }
        return result;
    }
}
