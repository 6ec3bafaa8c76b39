using GradientSurgery.Weighting;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>
/// Classification tasks (<see cref="ClassificationData"/>): each task's loss is the mean cross-entropy over the examples
/// labelled for it (−1 marks none), its metric the accuracy over them. metrics.csv has train/test loss and accuracy per
/// task.
/// </summary>
/// <param name="taskCount">Number of tasks.</param>
public sealed class ClassificationTasks(int taskCount) : IBenchmarkTasks
{
    // The label of an example that has none for a task (ClassificationData).
    private const long Unlabelled = -1;

    /// <inheritdoc />
    public int TaskCount { get; } = taskCount > 0 ? taskCount : throw new ArgumentOutOfRangeException(nameof(taskCount), taskCount, "At least one task is needed.");

    /// <inheritdoc />
    /// <remarks>Every task's loss is a cross-entropy: the classification likelihood of Kendall et al. (Eq. 10).</remarks>
    public UncertaintyTaskKind Likelihood => UncertaintyTaskKind.Classification;

    /// <inheritdoc />
    public bool SupportsDataParallel => true;

    /// <inheritdoc />
    public Tensor[] Losses(Tensor[] outputs, IReadOnlyList<Tensor> targets) =>
        [.. outputs.Select((o, t) => targets[t].ge(0).any().item<bool>()
            ? nn.functional.cross_entropy(o, targets[t], ignore_index: Unlabelled)
            : o.sum() * 0)];

    /// <inheritdoc />
    /// <remarks>Labels of −1 never equal a class index, so they count as neither correct nor labelled.</remarks>
    public (double[] Correct, double[] Counted) TrainingCounts(Tensor[] outputs, IReadOnlyList<Tensor> targets) =>
        ([.. outputs.Select((o, t) => (double)o.argmax(1).eq(targets[t]).sum().item<long>())],
         [.. targets.Select(l => (double)l.ge(0).sum().item<long>())]);

    /// <inheritdoc />
    public ITaskEvaluation StartEvaluation() => new Evaluation(TaskCount);

    /// <inheritdoc />
    /// <remarks>
    /// The conflicts/ columns are means over the epoch's steps of the tragic-triad diagnostics of the task
    /// gradients the aggregator saw. They are empty (NaN in <see cref="EpochMetrics"/>: not measured) for a loss
    /// weighting, whose step back-propagates one objective and never forms the per-task gradients; measuring them
    /// would cost T extra backward passes per step and change the method's cost.
    /// </remarks>
    public string[] Columns() =>
    [
        .. Enumerable.Range(0, TaskCount).SelectMany(t => new[] { $"train_loss/task{t}", $"train_accuracy/task{t}", $"test_loss/task{t}", $"test_accuracy/task{t}" }),
        .. TrailingColumns,
    ];

    /// <inheritdoc />
    public double[] Row(EpochMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return
        [
            .. Enumerable.Range(0, metrics.TrainLoss.Length).SelectMany(t => new[] { metrics.TrainLoss[t], metrics.TrainAccuracy[t], metrics.TestLoss[t], metrics.TestAccuracy[t] }),
            .. TrailingRow(metrics),
        ];
    }

    /// <summary>The columns every benchmark ends with: the conflict diagnostics and the epoch's training time.</summary>
    internal static string[] TrailingColumns { get; } =
        ["conflicts/fraction_conflicting", "conflicts/mean_cosine", "conflicts/magnitude_similarity", "conflicts/curvature", "time/epoch_seconds"];

    /// <summary>The values of <see cref="TrailingColumns"/>.</summary>
    internal static double[] TrailingRow(EpochMetrics m) => [m.ConflictFraction, m.MeanCosine, m.MagnitudeSimilarity, m.Curvature, m.Seconds];

    private sealed class Evaluation(int tasks) : ITaskEvaluation
    {
        private readonly double[] _loss = new double[tasks];
        private readonly double[] _correct = new double[tasks];
        private readonly double[] _labelled = new double[tasks];

        public void Add(Tensor[] outputs, IReadOnlyList<Tensor> targets)
        {
            for (var t = 0; t < _loss.Length; t++)
            {
                _loss[t] += nn.functional.cross_entropy(outputs[t], targets[t], ignore_index: Unlabelled, reduction: nn.Reduction.Sum).ToDouble();
                _correct[t] += outputs[t].argmax(1).eq(targets[t]).sum().item<long>();
                _labelled[t] += targets[t].ge(0).sum().item<long>();
            }
        }

        public TaskEvaluation Finish(Action<double[]> sumOverRanks)
        {
            sumOverRanks(_loss);
            sumOverRanks(_correct);
            sumOverRanks(_labelled);
            return new TaskEvaluation([.. _loss.Select((l, t) => l / _labelled[t])], [.. _correct.Select((c, t) => c / _labelled[t])], null);
        }
    }
}
