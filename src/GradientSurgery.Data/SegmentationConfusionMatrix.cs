namespace GradientSurgery.Data;

/// <summary>
/// The confusion matrix of a semantic segmentation accumulated over a whole split, and the mean IoU and pixel
/// accuracy read from it, as MTAN's <c>ConfMatrix</c> computes them (every pixel of every image counts once; pixels
/// whose target is outside 0..classes−1, i.e. −1, are ignored).
/// </summary>
/// <remarks>
/// One difference: MTAN averages the IoU over all classes, so a class absent from both targets and predictions
/// (0/0) makes its mIoU NaN; here such a class is left out of the mean. On NYUv2's full validation set every
/// class occurs, so the two agree.
/// </remarks>
public sealed class SegmentationConfusionMatrix
{
    private readonly long[] _counts;

    /// <summary>Creates an empty matrix.</summary>
    /// <param name="classCount">Number of classes (13 for NYUv2).</param>
    public SegmentationConfusionMatrix(int classCount = Nyuv2Dataset.ClassCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        ClassCount = classCount;
        _counts = new long[classCount * classCount];
    }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>Number of pixels counted (targets in range).</summary>
    public long Total { get; private set; }

    /// <summary>How many counted pixels of class <paramref name="target"/> were predicted as <paramref name="predicted"/>.</summary>
    /// <param name="target">True class.</param>
    /// <param name="predicted">Predicted class.</param>
    /// <returns>The count.</returns>
    public long Count(int target, int predicted)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(target);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(target, ClassCount);
        ArgumentOutOfRangeException.ThrowIfNegative(predicted);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(predicted, ClassCount);
        return _counts[target * ClassCount + predicted];
    }

    /// <summary>Adds a batch of pixels: predictions and targets of equal length, any layout as long as they correspond.</summary>
    /// <param name="predicted">Predicted classes (the arg-max over the class scores), each in 0..classes−1.</param>
    /// <param name="target">Targets; values outside 0..classes−1 (−1 = unlabelled) are skipped.</param>
    /// <exception cref="ArgumentException">The lengths differ, or a prediction is out of range (at a counted pixel).</exception>
    public void Update(ReadOnlySpan<int> predicted, ReadOnlySpan<int> target)
    {
        if (predicted.Length != target.Length)
        {
            throw new ArgumentException($"{predicted.Length} predictions for {target.Length} targets.", nameof(predicted));
        }
        // Checked before anything is counted, so that a refused batch leaves the matrix as it was.
        for (var i = 0; i < target.Length; i++)
        {
            if ((uint)target[i] < (uint)ClassCount && (uint)predicted[i] >= (uint)ClassCount)
            {
                throw new ArgumentException($"prediction {predicted[i]} at index {i} is not a class in 0..{ClassCount - 1}.", nameof(predicted));
            }
        }
        for (var i = 0; i < target.Length; i++)
        {
            var t = target[i];
            if ((uint)t < (uint)ClassCount)
            {
                _counts[t * ClassCount + predicted[i]]++;
                Total++;
            }
        }
    }

    /// <summary>The intersection over union of one class: TP / (TP + FP + FN), NaN when the class occurs in neither targets nor predictions.</summary>
    /// <param name="classIndex">The class.</param>
    /// <returns>IoU in [0, 1] or NaN.</returns>
    public double IoU(int classIndex)
    {
        var truePositive = Count(classIndex, classIndex);
        long row = 0, column = 0;
        for (var k = 0; k < ClassCount; k++)
        {
            row += _counts[classIndex * ClassCount + k];
            column += _counts[k * ClassCount + classIndex];
        }
        var union = row + column - truePositive;
        return union == 0 ? double.NaN : (double)truePositive / union;
    }

    /// <summary>The mean IoU over the classes that occur (in targets or predictions).</summary>
    /// <returns>mIoU in [0, 1].</returns>
    /// <exception cref="InvalidOperationException">No pixel has been counted.</exception>
    public double MeanIoU()
    {
        EnsureCounted();
        double sum = 0;
        var classes = 0;
        for (var c = 0; c < ClassCount; c++)
        {
            var iou = IoU(c);
            if (!double.IsNaN(iou))
            {
                sum += iou;
                classes++;
            }
        }
        return sum / classes;
    }

    /// <summary>The fraction of counted pixels predicted correctly.</summary>
    /// <returns>Accuracy in [0, 1].</returns>
    /// <exception cref="InvalidOperationException">No pixel has been counted.</exception>
    public double PixelAccuracy()
    {
        EnsureCounted();
        long correct = 0;
        for (var c = 0; c < ClassCount; c++)
        {
            correct += _counts[c * ClassCount + c];
        }
        return (double)correct / Total;
    }

    private void EnsureCounted()
    {
        if (Total == 0)
        {
            throw new InvalidOperationException("No labelled pixel has been counted; the metric is undefined.");
        }
    }
}
