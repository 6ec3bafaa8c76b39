namespace GradientSurgery.Data;

/// <summary>
/// The angle between predicted and ground-truth surface normals at every valid pixel of a split, summarised as MTAN
/// reports it: mean, median and the fractions within 11.25°, 22.5° and 30°.
/// </summary>
/// <remarks>
/// A pixel is valid when its ground-truth normal is not the zero vector (MTAN tests the sum of the three components,
/// which differs only for a unit vector whose components sum to exactly 0). The angle is
/// acos(clamp(p̂ · t̂, −1, 1)) with both vectors normalised; MTAN's network already outputs unit normals and its
/// targets are unit vectors, so this is the same number, and it stays meaningful for unnormalised input (a zero
/// prediction counts as 90°). Every angle is kept (4 bytes a pixel) because the median needs them all.
/// </remarks>
public sealed class NormalErrorAccumulator
{
    private readonly List<float> _angles = [];

    /// <summary>Number of valid pixels counted.</summary>
    public long ValidPixels => _angles.Count;

    /// <summary>Adds one image (or any block of pixels) in planar layout: x plane, y plane, z plane.</summary>
    /// <param name="predicted">3 · <paramref name="pixels"/> values: all x components, then all y, then all z.</param>
    /// <param name="target">Ground truth in the same layout; the zero vector marks a missing normal.</param>
    /// <param name="pixels">Pixels in the block (H · W for one image).</param>
    /// <exception cref="ArgumentException">A span is not 3 · <paramref name="pixels"/> long.</exception>
    public void Update(ReadOnlySpan<float> predicted, ReadOnlySpan<float> target, int pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pixels);
        if (predicted.Length != 3 * pixels || target.Length != 3 * pixels)
        {
            throw new ArgumentException($"expected 3 × {pixels} values in each of predicted ({predicted.Length}) and target ({target.Length}).", nameof(predicted));
        }
        for (var p = 0; p < pixels; p++)
        {
            double tx = target[p], ty = target[pixels + p], tz = target[2 * pixels + p];
            if (tx == 0 && ty == 0 && tz == 0)
            {
                continue;
            }
            double px = predicted[p], py = predicted[pixels + p], pz = predicted[2 * pixels + p];
            var norms = Math.Sqrt(tx * tx + ty * ty + tz * tz) * Math.Sqrt(px * px + py * py + pz * pz);
            var cosine = norms == 0 ? 0 : (px * tx + py * ty + pz * tz) / norms;
            _angles.Add((float)(Math.Acos(Math.Clamp(cosine, -1, 1)) * (180 / Math.PI)));
        }
    }

    /// <summary>The statistics over every valid pixel added so far.</summary>
    /// <returns>Mean, median and the three fractions.</returns>
    /// <exception cref="InvalidOperationException">No valid pixel has been counted.</exception>
    public NormalErrorStatistics Compute()
    {
        if (_angles.Count == 0)
        {
            throw new InvalidOperationException("No valid normal pixel (non-zero ground truth) has been counted; the metrics are undefined.");
        }
        var sorted = _angles.ToArray();
        Array.Sort(sorted);
        var n = sorted.Length;
        double sum = 0;
        long within11 = 0, within22 = 0, within30 = 0;
        foreach (double angle in sorted)
        {
            sum += angle;
            within11 += angle < 11.25 ? 1 : 0;
            within22 += angle < 22.5 ? 1 : 0;
            within30 += angle < 30 ? 1 : 0;
        }
        var median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + (double)sorted[n / 2]) / 2;
        return new NormalErrorStatistics(sum / n, median, (double)within11 / n, (double)within22 / n, (double)within30 / n, n);
    }
}
