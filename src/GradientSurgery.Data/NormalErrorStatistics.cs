namespace GradientSurgery.Data;

/// <summary>Surface-normal angle error statistics over the valid pixels of a split, in degrees and fractions.</summary>
/// <param name="Mean">Mean angle error (degrees).</param>
/// <param name="Median">Median angle error (degrees; the mean of the two middle values for an even count, as NumPy's median).</param>
/// <param name="Within11_25">Fraction of pixels with error strictly below 11.25°.</param>
/// <param name="Within22_5">Fraction of pixels with error strictly below 22.5°.</param>
/// <param name="Within30">Fraction of pixels with error strictly below 30°.</param>
/// <param name="ValidPixels">Number of valid pixels.</param>
public sealed record NormalErrorStatistics(double Mean, double Median, double Within11_25, double Within22_5, double Within30, long ValidPixels);
