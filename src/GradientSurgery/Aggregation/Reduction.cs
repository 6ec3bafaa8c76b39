namespace GradientSurgery.Aggregation;

/// <summary>How per-task results are combined into one update.</summary>
public enum Reduction
{
    /// <summary>The sum over tasks, as in Algorithm 1 of the PCGrad paper.</summary>
    Sum,

    /// <summary>The sum divided by the number of tasks T.</summary>
    Mean,
}

/// <summary>The reduction of per-task coefficient rows into update weights, shared by <see cref="PCGrad"/> and <see cref="GradVac"/>.</summary>
internal static class ReductionExtensions
{
    /// <summary>
    /// The weights w of the update Σ_i g_i' (or its mean) when row i of <paramref name="coefficients"/> (T×T)
    /// gives g_i' = Σ_j C[i, j] g_j: w_j = Σ_i C[i, j], divided by T for <see cref="Reduction.Mean"/>.
    /// </summary>
    public static double[] Combine(this Reduction reduction, double[,] coefficients)
    {
        var taskCount = coefficients.GetLength(0);
        var scale = reduction == Reduction.Mean ? 1.0 / taskCount : 1.0;
        var weights = new double[taskCount];
        for (var j = 0; j < taskCount; j++)
        {
            var sum = 0.0;
            for (var i = 0; i < taskCount; i++)
            {
                sum += coefficients[i, j];
            }
            weights[j] = sum * scale;
        }
        return weights;
    }
}
