using GradientSurgery.Weighting;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>
/// The tasks of a supervised benchmark as <see cref="MultiTaskTrainer{TModel}"/> needs them: each task's training loss
/// on a batch, the per-step counts behind a training accuracy, the evaluation of a split, and the columns of
/// metrics.csv. <see cref="ClassificationTasks"/> (cross-entropy and accuracy per task) and <see cref="Nyuv2Tasks"/>
/// (MTAN's segmentation, depth and surface-normal losses and metrics) implement it.
/// </summary>
public interface IBenchmarkTasks
{
    /// <summary>Number of tasks.</summary>
    int TaskCount { get; }

    /// <summary>The likelihood uncertainty weighting (Kendall et al.) assumes for every task's loss.</summary>
    UncertaintyTaskKind Likelihood { get; }

    /// <summary>Whether data-parallel training may shard this benchmark's steps and evaluation over ranks.</summary>
    bool SupportsDataParallel { get; }

    /// <summary>
    /// Each task's training loss on a batch (a mean, differentiable with respect to the outputs); a task with nothing to
    /// learn from in the batch gets a loss of zero that still depends on its output, so that it keeps a gradient (of zero).
    /// </summary>
    /// <param name="outputs">The network's outputs, one per task.</param>
    /// <param name="targets">The batch's targets, one per task.</param>
    Tensor[] Losses(Tensor[] outputs, IReadOnlyList<Tensor> targets);

    /// <summary>
    /// Per task, the examples (or pixels) predicted correctly and the examples counted, on a training batch: summed over
    /// the epoch they give the training accuracy. Tasks without a training accuracy count nothing (NaN in the metrics).
    /// </summary>
    /// <param name="outputs">The network's outputs, one per task (detached or not).</param>
    /// <param name="targets">The batch's targets, one per task.</param>
    (double[] Correct, double[] Counted) TrainingCounts(Tensor[] outputs, IReadOnlyList<Tensor> targets);

    /// <summary>Starts the evaluation of a split: add its batches, then finish.</summary>
    ITaskEvaluation StartEvaluation();

    /// <summary>Column names of metrics.csv after the leading epoch column.</summary>
    string[] Columns();

    /// <summary>The values of <see cref="Columns"/> for one epoch.</summary>
    double[] Row(EpochMetrics metrics);
}
