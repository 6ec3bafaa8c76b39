using GradientSurgery.Diagnostics;

namespace GradientSurgery.Training;

/// <summary>What one training step (or one multi-task backward) did, for either kind of method.</summary>
/// <param name="Losses">Each task's loss value before the step.</param>
/// <param name="Weights">
/// The effective per-task weights: w with shared update Σ_j w_j g_j for an aggregator that is a Gramian weighting
/// (null for aggregators that are not a linear combination); ∂objective/∂L_i for a loss weighting.
/// </param>
/// <param name="Conflicts">
/// The tragic-triad diagnostics of the task gradients (see <paramref name="ConflictScope"/>); null for a loss
/// weighting, whose step back-propagates one objective and never forms the per-task gradients.
/// </param>
/// <param name="ConflictScope">Which gradients <paramref name="Conflicts"/> describes.</param>
/// <param name="Timings">Where the step's time went.</param>
/// <param name="Objective">The value of the objective a loss weighting back-propagated; null for an aggregator.</param>
public sealed record StepReport(
    double[] Losses, double[]? Weights, ConflictReport? Conflicts, GradientScope ConflictScope, StepTimings Timings, double? Objective = null);

/// <summary>Wall-clock time of the two phases of a step (CPU operations are synchronous, so these are exact).</summary>
/// <param name="Gradients">The backward passes: per-task gradients into the Jacobian, or the loss weighting's one backward.</param>
/// <param name="Surgery">Everything the method adds: Gramian, weights, combination, checks and write-back to <c>.grad</c>.</param>
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
