namespace GradientSurgery.Data;

/// <summary>An IDX images file and its labels file, checked to hold the same number of items.</summary>
/// <param name="Images">The images; image <c>i</c> goes with <c>Labels[i]</c>.</param>
/// <param name="Labels">One class in 0..9 per image.</param>
public sealed record IdxLabeledImages(IdxImages Images, byte[] Labels)
{
    /// <summary>Number of labelled images.</summary>
    public int Count => Images.Count;
}
