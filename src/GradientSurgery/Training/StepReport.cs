using GradientSurgery.Diagnostics;

namespace GradientSurgery.Training;

/// <summary>What one multi-task backward (or optimizer step) did.</summary>
/// <param name="Losses">Each task's loss value.</param>
/// <param name="Weights">
/// The effective per-task weights w with shared update Σ_j w_j g_j, when the aggregator is an
/// <see cref="Aggregation.IGramianWeighting"/>; null for aggregators that are not a linear combination.
/// </param>
/// <param name="Conflicts">The tragic-triad diagnostics of the task gradients (see <paramref name="ConflictScope"/>).</param>
/// <param name="ConflictScope">Which gradients <paramref name="Conflicts"/> describes.</param>
public sealed record StepReport(double[] Losses, double[]? Weights, ConflictReport Conflicts, GradientScope ConflictScope = GradientScope.SharedParameters);

/// <summary>The gradients a conflict report describes.</summary>
public enum GradientScope
{
    /// <summary>Gradients with respect to the shared parameters (rows of the Jacobian the aggregator sees).</summary>
    SharedParameters,

    /// <summary>
    /// Gradients with respect to the shared representation (the trunk's output), for aggregators such as
    /// MGDA-UB that never form the parameter Jacobian.
    /// </summary>
    SharedFeatures,
}
