namespace GradientSurgery.Experiments.Toy;

/// <summary>The toy landscapes, by command-line name.</summary>
public static class ToyLandscapes
{
    /// <summary>Every landscape.</summary>
    public static IReadOnlyList<IToyLandscape> All { get; } = [new PaperLandscape(), new CAGradLandscape()];

    /// <summary>Looks a landscape up by name.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the valid ones.</exception>
    public static IToyLandscape Find(string name) =>
        All.FirstOrDefault(l => string.Equals(l.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown landscape '{name}'. Known landscapes: {string.Join(", ", All.Select(l => l.Name))}.");
}
