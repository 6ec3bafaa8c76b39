namespace GradientSurgery.Experiments.Supervised;

/// <summary>A split's evaluation.</summary>
/// <param name="Loss">Test loss per task.</param>
/// <param name="Accuracy">Test accuracy per task in [0, 1]; NaN for tasks that have none (dense tasks).</param>
/// <param name="Metrics">The benchmark's further metrics by column name (NYUv2's mIoU, depth and normal errors), or null.</param>
public sealed record TaskEvaluation(double[] Loss, double[] Accuracy, IReadOnlyDictionary<string, double>? Metrics);
