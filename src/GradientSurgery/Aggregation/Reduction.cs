namespace GradientSurgery.Aggregation;

/// <summary>How per-task results are combined into one update.</summary>
public enum Reduction
{
    /// <summary>The sum over tasks, as in Algorithm 1 of the PCGrad paper.</summary>
    Sum,

    /// <summary>The sum divided by the number of tasks T.</summary>
    Mean,
}
