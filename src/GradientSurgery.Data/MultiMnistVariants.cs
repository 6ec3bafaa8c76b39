namespace GradientSurgery.Data;

/// <summary>Command-line names of <see cref="MultiMnistVariant"/> values and the source datasets each one draws from.</summary>
public static class MultiMnistVariants
{
    private static readonly (MultiMnistVariant Variant, string Name)[] Table =
    [
        (MultiMnistVariant.MultiMnist, "multimnist"),
        (MultiMnistVariant.MultiFashion, "multifashion"),
        (MultiMnistVariant.MultiFashionMnist, "multifashion-mnist"),
    ];

    /// <summary>The command-line names, in enum order: <c>multimnist</c>, <c>multifashion</c>, <c>multifashion-mnist</c>.</summary>
    public static IReadOnlyList<string> CliNames { get; } = Array.AsReadOnly(Table.Select(entry => entry.Name).ToArray());

    /// <summary>The command-line name of a variant.</summary>
    /// <param name="variant">The variant.</param>
    /// <returns><c>multimnist</c>, <c>multifashion</c> or <c>multifashion-mnist</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="variant"/> is not a defined value.</exception>
    public static string CliName(this MultiMnistVariant variant)
    {
        foreach (var (value, name) in Table)
        {
            if (value == variant)
            {
                return name;
            }
        }
        throw new ArgumentOutOfRangeException(nameof(variant), variant, "Unknown MultiMNIST variant.");
    }

    /// <summary>Parses a command-line name (case-insensitive).</summary>
    /// <param name="name">One of <see cref="CliNames"/>.</param>
    /// <returns>The variant.</returns>
    /// <exception cref="ArgumentException">The name is not one of <see cref="CliNames"/>; the message lists them.</exception>
    public static MultiMnistVariant Parse(string name) =>
        TryParse(name, out var variant)
            ? variant
            : throw new ArgumentException($"Unknown dataset '{name}'; expected one of: {string.Join(", ", CliNames)}.", nameof(name));

    /// <summary>Parses a command-line name (case-insensitive, surrounding white space ignored).</summary>
    /// <param name="name">The candidate name.</param>
    /// <param name="variant">The variant when the name is known.</param>
    /// <returns>Whether the name is one of <see cref="CliNames"/>.</returns>
    public static bool TryParse(string? name, out MultiMnistVariant variant)
    {
        foreach (var (value, cliName) in Table)
        {
            if (string.Equals(name?.Trim(), cliName, StringComparison.OrdinalIgnoreCase))
            {
                variant = value;
                return true;
            }
        }
        variant = default;
        return false;
    }

    /// <summary>The source dataset of the upper-left image: <c>mnist</c> or <c>fashion-mnist</c> (see <see cref="SourceDatasets"/>).</summary>
    /// <param name="variant">The variant.</param>
    /// <returns>The source dataset name, which is also its folder name under the data directory.</returns>
    public static string LeftSource(this MultiMnistVariant variant) => variant switch
    {
        MultiMnistVariant.MultiMnist or MultiMnistVariant.MultiFashionMnist => SourceDatasets.Mnist,
        MultiMnistVariant.MultiFashion => SourceDatasets.FashionMnist,
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "Unknown MultiMNIST variant."),
    };

    /// <summary>The source dataset of the lower-right image: <c>mnist</c> or <c>fashion-mnist</c> (see <see cref="SourceDatasets"/>).</summary>
    /// <param name="variant">The variant.</param>
    /// <returns>The source dataset name, which is also its folder name under the data directory.</returns>
    public static string RightSource(this MultiMnistVariant variant) => variant switch
    {
        MultiMnistVariant.MultiMnist => SourceDatasets.Mnist,
        MultiMnistVariant.MultiFashion or MultiMnistVariant.MultiFashionMnist => SourceDatasets.FashionMnist,
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "Unknown MultiMNIST variant."),
    };
}
