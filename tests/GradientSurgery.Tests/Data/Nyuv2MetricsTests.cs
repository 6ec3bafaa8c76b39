using GradientSurgery.Data;

namespace GradientSurgery.Tests.Data;

/// <summary>MTAN's NYUv2 metrics against values worked out by hand on tiny arrays.</summary>
public sealed class Nyuv2MetricsTests
{
    [Fact]
    public void ConfusionMatrixGivesPixelAccuracyAndMeanIoUIgnoringMinusOne()
    {
        var matrix = new SegmentationConfusionMatrix(3);
        // Targets 0 0 1 1 2 −1, predictions 0 1 1 1 0 2: the last pixel is unlabelled and does not count.
        matrix.Update([0, 1, 1, 1, 0, 2], [0, 0, 1, 1, 2, -1]);

        Assert.Equal(5, matrix.Total);
        Assert.Equal(1, matrix.Count(0, 0));
        Assert.Equal(1, matrix.Count(0, 1));
        Assert.Equal(2, matrix.Count(1, 1));
        Assert.Equal(1, matrix.Count(2, 0));
        Assert.Equal(0, matrix.Count(2, 2));
        // 3 of 5 right.
        Assert.Equal(0.6, matrix.PixelAccuracy(), 12);
        // Class 0: TP 1, union 2 + 2 − 1 = 3; class 1: TP 2, union 2 + 3 − 2 = 3; class 2: TP 0, union 1.
        Assert.Equal(1.0 / 3, matrix.IoU(0), 12);
        Assert.Equal(2.0 / 3, matrix.IoU(1), 12);
        Assert.Equal(0.0, matrix.IoU(2), 12);
        Assert.Equal(1.0 / 3, matrix.MeanIoU(), 12);
    }

    [Fact]
    public void TheMatrixAccumulatesOverASplit()
    {
        var once = new SegmentationConfusionMatrix(3);
        once.Update([0, 1, 1, 1, 0, 2], [0, 0, 1, 1, 2, -1]);
        var inTwo = new SegmentationConfusionMatrix(3);
        inTwo.Update([0, 1, 1], [0, 0, 1]);
        inTwo.Update([1, 0, 2], [1, 2, -1]);

        Assert.Equal(once.Total, inTwo.Total);
        Assert.Equal(once.PixelAccuracy(), inTwo.PixelAccuracy());
        Assert.Equal(once.MeanIoU(), inTwo.MeanIoU());
        // Not the mean of per-batch values: the first batch alone has accuracy 2/3, the second 1/2.
        Assert.NotEqual((2.0 / 3 + 0.5) / 2, inTwo.PixelAccuracy(), 6);
    }

    [Fact]
    public void AClassAbsentFromTargetsAndPredictionsIsLeftOutOfTheMean()
    {
        var matrix = new SegmentationConfusionMatrix(13);
        matrix.Update([0, 0, 5], [0, 0, 5]);
        Assert.True(double.IsNaN(matrix.IoU(1)));
        Assert.Equal(1.0, matrix.MeanIoU(), 12);
        Assert.Equal(1.0, matrix.PixelAccuracy(), 12);
    }

    [Fact]
    public void SegmentationInputErrorsAreReported()
    {
        var matrix = new SegmentationConfusionMatrix(3);
        Assert.Throws<InvalidOperationException>(() => matrix.MeanIoU());
        Assert.Throws<InvalidOperationException>(() => matrix.PixelAccuracy());
        Assert.Contains("prediction 3 at index 1", Assert.Throws<ArgumentException>(() => matrix.Update([0, 3], [0, 1])).Message);
        Assert.Throws<ArgumentException>(() => matrix.Update([0], [0, 1]));
        // A bad prediction at an unlabelled pixel is not looked at, as in MTAN.
        matrix.Update([0, 7], [0, -1]);
        Assert.Equal(1, matrix.Total);
    }

    [Fact]
    public void DepthErrorsAreOverValidPixelsOnly()
    {
        var depth = new DepthErrorAccumulator();
        // Pixel 1 has no ground truth (0) and is skipped although its prediction is far off.
        depth.Update([1, 2, 5, 9], [2, 0, 4, 10]);

        Assert.Equal(3, depth.ValidPixels);
        Assert.Equal(1.0, depth.AbsoluteError(), 6);                       // (1 + 1 + 1) / 3
        Assert.Equal((0.5 + 0.25 + 0.1) / 3, depth.RelativeError(), 6);   // (1/2 + 1/4 + 1/10) / 3

        depth.Update([3], [1]);
        Assert.Equal(5.0 / 4, depth.AbsoluteError(), 6);                   // (1 + 1 + 1 + 2) / 4
        Assert.Equal((0.5 + 0.25 + 0.1 + 2) / 4, depth.RelativeError(), 6);
        Assert.Throws<InvalidOperationException>(() => new DepthErrorAccumulator().AbsoluteError());
        Assert.Throws<ArgumentException>(() => depth.Update([1, 2], [1]));
    }

    [Fact]
    public void NormalAngleStatisticsMatchHandComputedAngles()
    {
        var normals = new NormalErrorAccumulator();
        // Four pixels, planar (x plane, y plane, z plane). Ground truth: +z, +x, none, +y.
        // Predictions: +z (0°), (1, 1, 0) (45°), anything (skipped), −y (180°).
        float[] target = [0, 1, 0, 0, /* y */ 0, 0, 0, 1, /* z */ 1, 0, 0, 0];
        float[] predicted = [0, 1, 5, 0, /* y */ 0, 1, 5, -1, /* z */ 1, 0, 5, 0];
        normals.Update(predicted, target, 4);

        var first = normals.Compute();
        Assert.Equal(3, first.ValidPixels);
        Assert.Equal(75.0, first.Mean, 4);         // (0 + 45 + 180) / 3
        Assert.Equal(45.0, first.Median, 4);
        Assert.Equal(1.0 / 3, first.Within11_25, 12);
        Assert.Equal(1.0 / 3, first.Within22_5, 12);
        Assert.Equal(1.0 / 3, first.Within30, 12);

        // A fourth valid pixel at 20°, predicted with length 2 (angles do not depend on the length).
        var angle = 20 * Math.PI / 180;
        normals.Update([(float)(2 * Math.Cos(angle)), (float)(2 * Math.Sin(angle)), 0], [1, 0, 0], 1);
        var second = normals.Compute();
        Assert.Equal(4, second.ValidPixels);
        Assert.Equal((0 + 20 + 45 + 180) / 4.0, second.Mean, 4);
        Assert.Equal((20 + 45) / 2.0, second.Median, 4);  // even count: mean of the two middle angles
        Assert.Equal(0.25, second.Within11_25, 12);
        Assert.Equal(0.5, second.Within22_5, 12);
        Assert.Equal(0.5, second.Within30, 12);
    }

    [Fact]
    public void NormalInputErrorsAreReported()
    {
        var normals = new NormalErrorAccumulator();
        Assert.Throws<InvalidOperationException>(() => normals.Compute());
        Assert.Throws<ArgumentException>(() => normals.Update([1, 0], [1, 0, 0], 1));
        // Only missing ground truth: still nothing to summarise.
        normals.Update([1, 0, 0], [0, 0, 0], 1);
        Assert.Throws<InvalidOperationException>(() => normals.Compute());
        // A zero prediction against a real normal counts as 90°.
        normals.Update([0, 0, 0], [0, 0, 1], 1);
        Assert.Equal(90.0, normals.Compute().Mean, 4);
    }
}
