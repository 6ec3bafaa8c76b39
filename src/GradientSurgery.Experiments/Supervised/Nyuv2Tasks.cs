using GradientSurgery.Data;
using GradientSurgery.Weighting;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>
/// NYUv2's three dense tasks as MTAN trains and measures them (Liu, Johns &amp; Davison, CVPR 2019, <c>model_fit</c> and
/// the metrics of its <c>utils.py</c>): 13-class semantic segmentation, depth and surface normals, on
/// <see cref="DenseData"/>.
/// </summary>
/// <remarks>
/// <para>
/// Losses, each a mean over the batch's valid pixels: segmentation, the cross-entropy of the logits over pixels labelled
/// 0..12 (−1 ignored); depth, |d̂ − d| over pixels whose depth is not 0; normals, 1 − n̂·n over pixels whose normal is not
/// the zero vector (the network outputs unit normals). Test losses are the same over every valid pixel of the split.
/// </para>
/// <para>
/// Test metrics (<see cref="MetricNames"/>): mIoU and pixel accuracy (<see cref="SegmentationConfusionMatrix"/>), mean
/// absolute and relative depth error (<see cref="DepthErrorAccumulator"/>), mean and median normal angle error and the
/// fractions within 11.25°, 22.5° and 30° (<see cref="NormalErrorAccumulator"/>). There is no training accuracy.
/// </para>
/// <para>
/// Data-parallel training is refused: the median angle needs every pixel's angle in one place, which the sums that
/// ranks exchange cannot carry.
/// </para>
/// </remarks>
public sealed class Nyuv2Tasks : IBenchmarkTasks
{
    /// <summary>The tasks' names, in the order of the outputs and targets.</summary>
    public static IReadOnlyList<string> TaskNames { get; } = ["segmentation", "depth", "normal"];

    /// <summary>The test metrics' column names in metrics.csv, in order.</summary>
    public static IReadOnlyList<string> MetricNames { get; } =
    [
        "test/segmentation_miou", "test/segmentation_pixel_accuracy", "test/depth_abs_error", "test/depth_rel_error",
        "test/normal_mean_angle", "test/normal_median_angle", "test/normal_within_11.25", "test/normal_within_22.5", "test/normal_within_30",
    ];

    /// <inheritdoc />
    public int TaskCount => TaskNames.Count;

    /// <inheritdoc />
    /// <remarks>
    /// One likelihood for all tasks is all the weighting takes; two of the three tasks are regressions (depth, normals),
    /// so the Gaussian one. MTAN's own uncertainty-weighting runs use the same form for every task.
    /// </remarks>
    public UncertaintyTaskKind Likelihood => UncertaintyTaskKind.Regression;

    /// <inheritdoc />
    public bool SupportsDataParallel => false;

    /// <summary>Sum of the cross-entropies over pixels labelled 0..12, and their number (a scalar tensor each).</summary>
    /// <param name="logits">N×C×H×W class scores.</param>
    /// <param name="labels">N×H×W int64 class ids, −1 for unlabelled pixels.</param>
    public static (Tensor Sum, Tensor Count) SegmentationError(Tensor logits, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        return (nn.functional.cross_entropy(logits, labels, ignore_index: Nyuv2Dataset.IgnoreLabel, reduction: nn.Reduction.Sum), labels.ge(0).sum());
    }

    /// <summary>Sum of |d̂ − d| over pixels whose depth is not 0, and their number.</summary>
    /// <param name="predicted">N×1×H×W predicted depth.</param>
    /// <param name="depth">N×1×H×W depth, 0 where missing.</param>
    public static (Tensor Sum, Tensor Count) DepthError(Tensor predicted, Tensor depth)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(depth);
        var valid = depth.ne(0);
        // where, not a product with the mask: a non-finite prediction at a missing pixel must not make the loss NaN.
        return (where(valid, (predicted - depth).abs(), zeros_like(predicted)).sum(), valid.sum());
    }

    /// <summary>Sum of 1 − n̂·n over pixels whose normal is not the zero vector, and their number.</summary>
    /// <param name="predicted">N×3×H×W predicted unit normals.</param>
    /// <param name="normals">N×3×H×W normals, the zero vector where missing.</param>
    public static (Tensor Sum, Tensor Count) NormalError(Tensor predicted, Tensor normals)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(normals);
        var valid = normals.ne(0).any(1);
        var cosine = (predicted * normals).sum(1);
        return (where(valid, 1 - cosine, zeros_like(cosine)).sum(), valid.sum());
    }

    /// <summary>The mean of an error over its valid pixels; with none, a zero that still depends on the output.</summary>
    private static Tensor Mean((Tensor Sum, Tensor Count) error, Tensor output) =>
        error.Count.item<long>() > 0 ? error.Sum / error.Count : output.sum() * 0;

    /// <inheritdoc />
    public Tensor[] Losses(Tensor[] outputs, IReadOnlyList<Tensor> targets)
    {
        Check(outputs, targets);
        return
        [
            Mean(SegmentationError(outputs[0], targets[0]), outputs[0]),
            Mean(DepthError(outputs[1], targets[1]), outputs[1]),
            Mean(NormalError(outputs[2], targets[2]), outputs[2]),
        ];
    }

    /// <inheritdoc />
    /// <remarks>Nothing: MTAN reports no training accuracy for dense tasks.</remarks>
    public (double[] Correct, double[] Counted) TrainingCounts(Tensor[] outputs, IReadOnlyList<Tensor> targets) => (new double[TaskCount], new double[TaskCount]);

    /// <inheritdoc />
    public ITaskEvaluation StartEvaluation() => new Evaluation();

    /// <inheritdoc />
    public string[] Columns() =>
    [
        .. TaskNames.Select(t => $"train_loss/{t}"), .. TaskNames.Select(t => $"test_loss/{t}"), .. MetricNames, .. ClassificationTasks.TrailingColumns,
    ];

    /// <inheritdoc />
    public double[] Row(EpochMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return
        [
            .. metrics.TrainLoss, .. metrics.TestLoss,
            .. MetricNames.Select(name => metrics.TestMetrics is { } measured && measured.TryGetValue(name, out var value) ? value : double.NaN),
            .. ClassificationTasks.TrailingRow(metrics),
        ];
    }

    private static void Check(Tensor[] outputs, IReadOnlyList<Tensor> targets)
    {
        if (outputs.Length != 3 || targets.Count != 3)
        {
            throw new ArgumentException($"NYUv2 has 3 tasks (segmentation, depth, normals); got {outputs.Length} outputs and {targets.Count} targets.");
        }
    }

    private sealed class Evaluation : ITaskEvaluation
    {
        private readonly double[] _loss = new double[3];
        private readonly double[] _valid = new double[3];
        private readonly SegmentationConfusionMatrix _segmentation = new();
        private readonly DepthErrorAccumulator _depth = new();
        private readonly NormalErrorAccumulator _normals = new();

        public void Add(Tensor[] outputs, IReadOnlyList<Tensor> targets)
        {
            Check(outputs, targets);
            (Tensor Sum, Tensor Count)[] errors =
                [SegmentationError(outputs[0], targets[0]), DepthError(outputs[1], targets[1]), NormalError(outputs[2], targets[2])];
            for (var t = 0; t < 3; t++)
            {
                _loss[t] += errors[t].Sum.ToDouble();
                _valid[t] += errors[t].Count.item<long>();
            }
            _segmentation.Update(Ints(outputs[0].argmax(1)), Ints(targets[0]));
            _depth.Update(Floats(outputs[1]), Floats(targets[1]));
            var predicted = Floats(outputs[2]);
            var normals = Floats(targets[2]);
            var pixels = (int)(targets[2].shape[2] * targets[2].shape[3]);
            for (var i = 0; i < targets[2].shape[0]; i++)
            {
                _normals.Update(predicted.AsSpan(i * 3 * pixels, 3 * pixels), normals.AsSpan(i * 3 * pixels, 3 * pixels), pixels);
            }
        }

        public TaskEvaluation Finish(Action<double[]> sumOverRanks)
        {
            // One process only (SupportsDataParallel is false): the accumulators hold the whole split.
            double Defined(Func<double> metric, long valid) => valid > 0 ? metric() : double.NaN;
            var normals = _normals.ValidPixels > 0 ? _normals.Compute() : null;
            var metrics = new Dictionary<string, double>
            {
                [MetricNames[0]] = Defined(_segmentation.MeanIoU, _segmentation.Total),
                [MetricNames[1]] = Defined(_segmentation.PixelAccuracy, _segmentation.Total),
                [MetricNames[2]] = Defined(_depth.AbsoluteError, _depth.ValidPixels),
                [MetricNames[3]] = Defined(_depth.RelativeError, _depth.ValidPixels),
                [MetricNames[4]] = normals?.Mean ?? double.NaN,
                [MetricNames[5]] = normals?.Median ?? double.NaN,
                [MetricNames[6]] = normals?.Within11_25 ?? double.NaN,
                [MetricNames[7]] = normals?.Within22_5 ?? double.NaN,
                [MetricNames[8]] = normals?.Within30 ?? double.NaN,
            };
            return new TaskEvaluation([.. _loss.Select((l, t) => _valid[t] > 0 ? l / _valid[t] : double.NaN)], [double.NaN, double.NaN, double.NaN], metrics);
        }

        private static int[] Ints(Tensor values)
        {
            using var converted = values.to(ScalarType.Int32).contiguous();
            return converted.data<int>().ToArray();
        }

        private static float[] Floats(Tensor values)
        {
            using var converted = values.to(ScalarType.Float32).contiguous();
            return converted.data<float>().ToArray();
        }
    }
}
