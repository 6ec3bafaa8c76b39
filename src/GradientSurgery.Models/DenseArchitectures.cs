namespace GradientSurgery.Models;

/// <summary>
/// The dense-prediction networks for NYUv2 by name, as <c>gsurg train --benchmark nyuv2 --arch</c> takes them: <c>hps</c>
/// (<see cref="SegNetSplit"/>, MTAN's shared-SegNet baseline) and <c>mtan</c> (<see cref="SegNetMtan"/>). Both use
/// <see cref="SegNetBackbone.DefaultFilters"/> unless given other widths.
/// </summary>
public static class DenseArchitectures
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["hps", "mtan"];

    /// <summary>Parses comma-separated widths per level ("16,32,64,128,128"); null or empty gives null (the default widths).</summary>
    /// <param name="filters">The widths.</param>
    /// <exception cref="ArgumentException">Not a list of positive integers.</exception>
    public static int[]? ParseFilters(string? filters)
    {
        if (string.IsNullOrWhiteSpace(filters))
        {
            return null;
        }
        var parts = filters.Split(',', StringSplitOptions.TrimEntries);
        var widths = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out widths[i]) || widths[i] <= 0)
            {
                throw new ArgumentException($"The SegNet widths must be positive integers separated by commas (e.g. 16,32,64,128,128); '{parts[i]}' in '{filters}' is not one.", nameof(filters));
            }
        }
        return widths;
    }

    /// <summary>Builds a dense network for NYUv2's three tasks; initial weights come from the global torch generator.</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="filters">Channels per SegNet level; <see cref="SegNetBackbone.DefaultFilters"/> when null.</param>
    /// <exception cref="ArgumentException">Another name (the classification architectures have no dense variant).</exception>
    public static MultiTaskModule Create(string name, IReadOnlyList<int>? filters = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.ToLowerInvariant() switch
        {
            "hps" => new SegNetSplit(filters),
            "mtan" => new SegNetMtan(filters),
            _ => throw new ArgumentException($"Architecture '{name}' has no dense-prediction variant for nyuv2; use one of {string.Join(", ", Names)}.", nameof(name)),
        };
    }
}
