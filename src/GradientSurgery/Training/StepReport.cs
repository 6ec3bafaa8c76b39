using GradientSurgery.Diagnostics;

namespace GradientSurgery.Training;

/// <summary>What one multi-task backward (or optimizer step) did.</summary>
/// <param name="Losses">Each task's loss value.</param>
/// <param name="Weights">
/// The effective per-task weights w with shared update Σ_j w_j g_j, when the aggregator is an
/// <see cref="Aggregation.IGramianWeighting"/>; null for aggregators that are not a linear combination.
/// </param>
/// <param name="Conflicts">The tragic-triad diagnostics of the shared-parameter gradients.</param>
public sealed record StepReport(double[] Losses, double[]? Weights, ConflictReport Conflicts);
