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
/// <param name="Timings">Where the backward's time went.</param>
public sealed record StepReport(
    double[] Losses, double[]? Weights, ConflictReport Conflicts, GradientScope ConflictScope, StepTimings Timings);

/// <summary>Wall-clock time of the two phases of a multi-task backward (CPU operations are synchronous, so these are exact).</summary>
/// <param name="Gradients">The vector-Jacobian products: per-task gradients through heads and trunk, into the Jacobian.</param>
/// <param name="Surgery">Everything the aggregation adds: Gramian, weights, combination, checks and write-back to <c>.grad</c>.</param>
public sealed record StepTimings(TimeSpan Gradients, TimeSpan Surgery);

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
