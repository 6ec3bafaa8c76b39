namespace GradientSurgery.Experiments.Supervised;

/// <summary>One epoch of a supervised multi-task run.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean training loss per task over the epoch's batches.</param>
/// <param name="TrainAccuracy">Training accuracy per task (with dropout active), in [0, 1]; NaN where not measured (dense tasks).</param>
/// <param name="TestLoss">Test loss per task at the end of the epoch.</param>
/// <param name="TestAccuracy">Test accuracy per task at the end of the epoch, in [0, 1]; NaN where not measured (dense tasks).</param>
/// <param name="ConflictFraction">Mean over the epoch's steps of the fraction of task pairs in conflict; NaN when not measured (a loss weighting's steps form no per-task gradients).</param>
/// <param name="MeanCosine">Mean pairwise cosine of the shared gradients over the epoch; NaN when not measured.</param>
/// <param name="MagnitudeSimilarity">Mean gradient magnitude similarity Φ over the epoch; NaN when not measured.</param>
/// <param name="Curvature">Mean curvature bounding measure ξ over the epoch; NaN when not measured.</param>
/// <param name="Seconds">Wall-clock training time of the epoch (without evaluation).</param>
/// <param name="TestMetrics">
/// The benchmark's further test metrics by metrics.csv column (NYUv2's mIoU, depth and normal errors,
/// <see cref="Nyuv2Tasks"/>); null for classification, whose metric is <paramref name="TestAccuracy"/>. Histories of
/// checkpoints written before it existed read as null.
/// </param>
public sealed record EpochMetrics(
    int Epoch, double[] TrainLoss, double[] TrainAccuracy, double[] TestLoss, double[] TestAccuracy,
    double ConflictFraction, double MeanCosine, double MagnitudeSimilarity, double Curvature, double Seconds,
    IReadOnlyDictionary<string, double>? TestMetrics = null);
