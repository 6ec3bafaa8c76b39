namespace GradientSurgery.Experiments.Supervised;

/// <summary>How a call of <see cref="MultiTaskTrainer{TModel}.Train"/> ended.</summary>
/// <param name="Completed">All epochs ran (false when stopped early; the checkpoint allows --resume).</param>
/// <param name="Steps">Optimiser steps taken in total, including earlier sessions of a resumed run.</param>
/// <param name="History">Metrics of every finished epoch.</param>
public sealed record TrainingOutcome(bool Completed, long Steps, IReadOnlyList<EpochMetrics> History);
