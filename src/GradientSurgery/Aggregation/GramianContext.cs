using GradientSurgery.Training;

namespace GradientSurgery.Aggregation;

/// <summary>What a <see cref="GramianWeighting"/> may look at to choose the task weights.</summary>
/// <param name="Gramian">The checked T×T Gramian of the task gradients.</param>
/// <param name="Losses">Each task's loss value, when the caller has them (the multi-task backward always does); null otherwise.</param>
/// <param name="Scope">
/// Which gradients the Gramian is of: the shared parameters (rows of the Jacobian), or the shared representation
/// when a weighting with <see cref="GramianWeighting.UsesRepresentationGramian"/> runs on the features path.
/// </param>
public sealed record GramianContext(
    CheckedGramian Gramian, IReadOnlyList<double>? Losses = null, GradientScope Scope = GradientScope.SharedParameters);
