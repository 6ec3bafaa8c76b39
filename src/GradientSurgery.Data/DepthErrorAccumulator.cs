namespace GradientSurgery.Data;

/// <summary>
/// Mean absolute and mean relative depth error over the valid pixels (ground truth ≠ 0) of a whole split, the two
/// depth metrics MTAN reports: |d̂ − d| and |d̂ − d| / d.
/// </summary>
/// <remarks>
/// MTAN averages per batch and then over batches; here every valid pixel of the split counts once, which is the
/// same for equal-sized batches with equal valid counts and the better-defined number otherwise.
/// </remarks>
public sealed class DepthErrorAccumulator
{
    private double _absolute;
    private double _relative;

    /// <summary>Number of valid pixels counted.</summary>
    public long ValidPixels { get; private set; }

    /// <summary>Adds predictions and ground truth of equal length (any layout, corresponding element by element).</summary>
    /// <param name="predicted">Predicted depth.</param>
    /// <param name="target">Ground-truth depth, 0 where missing.</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public void Update(ReadOnlySpan<float> predicted, ReadOnlySpan<float> target)
    {
        if (predicted.Length != target.Length)
        {
            throw new ArgumentException($"{predicted.Length} predictions for {target.Length} targets.", nameof(predicted));
        }
        for (var i = 0; i < target.Length; i++)
        {
            double t = target[i];
            if (t == 0)
            {
                continue;
            }
            var error = Math.Abs(predicted[i] - t);
            _absolute += error;
            _relative += error / t;
            ValidPixels++;
        }
    }

    /// <summary>Mean |d̂ − d| over valid pixels.</summary>
    /// <returns>The mean absolute error.</returns>
    /// <exception cref="InvalidOperationException">No valid pixel has been counted.</exception>
    public double AbsoluteError() => ValidPixels == 0 ? throw Empty() : _absolute / ValidPixels;

    /// <summary>Mean |d̂ − d| / d over valid pixels.</summary>
    /// <returns>The mean relative error.</returns>
    /// <exception cref="InvalidOperationException">No valid pixel has been counted.</exception>
    public double RelativeError() => ValidPixels == 0 ? throw Empty() : _relative / ValidPixels;

    private static InvalidOperationException Empty() => new("No valid depth pixel (ground truth ≠ 0) has been counted; the metric is undefined.");
}
