using GradientSurgery.Experiments.Supervised;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Experiments;

/// <summary>MTAN's NYUv2 losses and metrics (<see cref="Nyuv2Tasks"/>) on tiny tensors, against values computed by hand.</summary>
public sealed class Nyuv2TasksTests
{
    private static readonly Nyuv2Tasks Tasks = new();

    [Fact]
    public void SegmentationLossIsTheCrossEntropyOverLabelledPixelsOnly()
    {
        using var scope = NewDisposeScope();
        // One image of 1×3 pixels, 2 classes; the last pixel is unlabelled (−1) and must not count.
        var logits = tensor(new float[] { 0, 1, 5, 0, 0, -7 }).reshape(1, 2, 1, 3);
        var labels = tensor(new long[] { 0, 0, -1 }).reshape(1, 1, 3);
        var (sum, count) = Nyuv2Tasks.SegmentationError(logits, labels);
        // Pixel 0: logits (0, 0), class 0 → ln 2. Pixel 1: logits (1, 0), class 0 → ln(1 + e^−1).
        var expected = Math.Log(2) + Math.Log(1 + Math.Exp(-1));
        Assert.Equal(expected, sum.ToDouble(), 5);
        Assert.Equal(2, count.item<long>());
        var losses = Tasks.Losses([logits, zeros(1, 1, 1, 3), zeros(1, 3, 1, 3)], [labels, ones(1, 1, 1, 3), zeros(1, 3, 1, 3)]);
        Assert.Equal(expected / 2, losses[0].ToDouble(), 5);
    }

    [Fact]
    public void DepthLossIsTheMeanAbsoluteErrorOverPixelsWithDepth()
    {
        using var scope = NewDisposeScope();
        var predicted = tensor(new float[] { 1, 2, 100, 4 }).reshape(1, 1, 2, 2);
        // The third pixel has no depth (0): its error of 100 must not count.
        var depth = tensor(new float[] { 1.5f, 1, 0, 2 }).reshape(1, 1, 2, 2);
        var (sum, count) = Nyuv2Tasks.DepthError(predicted, depth);
        Assert.Equal(0.5 + 1 + 2, sum.ToDouble(), 6);
        Assert.Equal(3, count.item<long>());
        var loss = Tasks.Losses([zeros(1, 2, 2, 2), predicted, zeros(1, 3, 2, 2)], [zeros(1, 2, 2, ScalarType.Int64), depth, zeros(1, 3, 2, 2)])[1];
        Assert.Equal(3.5 / 3, loss.ToDouble(), 6);
    }

    [Fact]
    public void NormalLossIsOneMinusTheMeanCosineOverPixelsWithANormal()
    {
        using var scope = NewDisposeScope();
        // Planar layout, 3 pixels: predictions (1,0,0), (0,1,0), (0,0,1); targets (1,0,0), (1,0,0), (0,0,0) = missing.
        var predicted = tensor(new float[] { 1, 0, 0, 0, 1, 0, 0, 0, 1 }).reshape(1, 3, 1, 3);
        var normals = tensor(new float[] { 1, 1, 0, 0, 0, 0, 0, 0, 0 }).reshape(1, 3, 1, 3);
        var (sum, count) = Nyuv2Tasks.NormalError(predicted, normals);
        // 1 − cos: 0 at the first pixel, 1 at the second (perpendicular); the third is not counted.
        Assert.Equal(1, sum.ToDouble(), 6);
        Assert.Equal(2, count.item<long>());
        var loss = Tasks.Losses([zeros(1, 2, 1, 3), zeros(1, 1, 1, 3), predicted], [zeros(1, 1, 3, ScalarType.Int64), zeros(1, 1, 1, 3), normals])[2];
        Assert.Equal(0.5, loss.ToDouble(), 6);
    }

    [Fact]
    public void ATaskWithoutValidPixelsHasAZeroLossThatKeepsAGradient()
    {
        using var scope = NewDisposeScope();
        var output = randn(1, 1, 2, 2).requires_grad_();
        var loss = Tasks.Losses([zeros(1, 2, 2, 2), output, zeros(1, 3, 2, 2)], [full(1, 2, 2, -1L, ScalarType.Int64), zeros(1, 1, 2, 2), zeros(1, 3, 2, 2)])[1];
        Assert.Equal(0, loss.ToDouble());
        loss.backward();
        Assert.NotNull(output.grad);
    }

    [Fact]
    public void EvaluationGivesMtansMetricsAndColumns()
    {
        using var scope = NewDisposeScope();
        var evaluation = Tasks.StartEvaluation();
        // 1×2 pixels. Segmentation: both pixels predicted class 1, labels 1 and −1 → mIoU over present classes 1, pixel acc 1.
        var logits = tensor(new float[] { 0, 0, 1, 1 }).reshape(1, 2, 1, 2);
        var labels = tensor(new long[] { 1, -1 }).reshape(1, 1, 2);
        // Depth: predicted 2 and 5 for 1 and 0 (missing) → abs 1, rel 1.
        var predictedDepth = tensor(new float[] { 2, 5 }).reshape(1, 1, 1, 2);
        var depth = tensor(new float[] { 1, 0 }).reshape(1, 1, 1, 2);
        // Normals: (0,0,1) against (0,0,1) and (0,1,0) → angles 0° and 90°.
        var predictedNormals = tensor(new float[] { 0, 0, 0, 0, 1, 1 }).reshape(1, 3, 1, 2);
        var normals = tensor(new float[] { 0, 0, 0, 1, 1, 0 }).reshape(1, 3, 1, 2);
        evaluation.Add([logits, predictedDepth, predictedNormals], [labels, depth, normals]);
        var result = evaluation.Finish(_ => { });
        var metrics = result.Metrics!;
        Assert.Equal(1, metrics["test/segmentation_pixel_accuracy"], 6);
        Assert.Equal(1, metrics["test/depth_abs_error"], 6);
        Assert.Equal(1, metrics["test/depth_rel_error"], 6);
        Assert.Equal(45, metrics["test/normal_mean_angle"], 3);
        Assert.Equal(45, metrics["test/normal_median_angle"], 3);
        Assert.Equal(0.5, metrics["test/normal_within_11.25"], 6);
        Assert.Equal(1, result.Loss[1], 6);
        Assert.Equal(0.5, result.Loss[2], 6);
        Assert.Equal(Math.Log(1 + Math.Exp(-1)), result.Loss[0], 5);

        var columns = Tasks.Columns();
        Assert.Equal(["train_loss/segmentation", "train_loss/depth", "train_loss/normal", "test_loss/segmentation"], columns[..4]);
        Assert.Contains("test/segmentation_miou", columns);
        Assert.Equal("time/epoch_seconds", columns[^1]);
        var row = Tasks.Row(new EpochMetrics(1, [1, 2, 3], [double.NaN, double.NaN, double.NaN], result.Loss, result.Accuracy, 0, 0, 0, 0, 7, metrics));
        Assert.Equal(columns.Length, row.Length);
        Assert.Equal(1, row[Array.IndexOf(columns, "test/depth_abs_error")], 6);
    }
}
