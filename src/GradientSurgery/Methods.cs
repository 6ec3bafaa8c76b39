using GradientSurgery.Aggregation;
using GradientSurgery.Weighting;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery;

/// <summary>The two kinds of multi-task method, which need different training steps.</summary>
public enum MethodKind
{
    /// <summary>
    /// An <see cref="IAggregator"/> (<see cref="Aggregators"/>): the per-task Jacobian of the shared parameters is
    /// combined into one update by the multi-task backward (T gradient passes per step).
    /// </summary>
    Aggregator,

    /// <summary>
    /// An <see cref="ILossWeighting"/> (<see cref="LossWeightings"/>): the losses are combined into one objective
    /// that is back-propagated once.
    /// </summary>
    LossWeighting,
}

/// <summary>A registered method of either kind.</summary>
/// <param name="Name">The lower-case name used on the command line.</param>
/// <param name="DisplayName">The name used in tables and plots.</param>
/// <param name="Reference">The paper that defines it.</param>
/// <param name="Kind">Aggregator or loss weighting.</param>
public sealed record RegisteredMethod(string Name, string DisplayName, string Reference, MethodKind Kind);

/// <summary>
/// The one place that resolves a method name to an aggregator or a loss weighting: the command line and the
/// experiments ask it which kind a specification is, and then create it from <see cref="Aggregators"/> or
/// <see cref="LossWeightings"/>.
/// </summary>
public static class Methods
{
    /// <summary>Every method: the aggregators, then the loss weightings, each in its registry's order.</summary>
    /// <remarks>Built on each call, so that methods added to either registry appear at once.</remarks>
    public static IReadOnlyList<RegisteredMethod> All =>
    [
        .. Aggregators.All.Select(a => new RegisteredMethod(a.Name, a.DisplayName, a.Reference, MethodKind.Aggregator)),
        .. LossWeightings.All.Select(w => new RegisteredMethod(w.Name, w.DisplayName, w.Reference, MethodKind.LossWeighting)),
    ];

    /// <summary>Every registered name, aggregators first.</summary>
    public static IEnumerable<string> Names => All.Select(m => m.Name);

    /// <summary>Looks a method of either kind up by name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No method has that name; the message lists every valid name, by kind.</exception>
    public static RegisteredMethod Find(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var matches = All.Where(m => string.Equals(m.Name, name.Trim(), StringComparison.OrdinalIgnoreCase)).ToArray();
        return matches.Length switch
        {
            1 => matches[0],
            0 => throw new ArgumentException(
                $"Unknown method '{name.Trim()}'. Known methods: aggregators {string.Join(", ", Aggregators.Names)}; loss weightings {string.Join(", ", LossWeightings.Names)}."),
            // Registering a name in both registries is a programming error that tests catch; refuse rather than guess.
            _ => throw new InvalidOperationException($"The method name '{name.Trim()}' is registered both as an aggregator and as a loss weighting."),
        };
    }

    /// <summary>The registered method a specification <c>name[:key=value,…]</c> names (its arguments are not checked).</summary>
    /// <exception cref="ArgumentException">Unknown name or malformed specification.</exception>
    public static RegisteredMethod Resolve(string specification) => Find(Split(specification).Name);

    /// <summary>
    /// Checks a whole specification without training anything: the name, the syntax, that every argument is one
    /// the method takes, and the values (by creating the method once, for two tasks on the CPU, and discarding it).
    /// </summary>
    /// <returns>The method the specification names.</returns>
    /// <exception cref="ArgumentException">The first problem found, in a one-line message.</exception>
    public static RegisteredMethod Validate(string specification, long seed)
    {
        var method = Resolve(specification);
        if (method.Kind == MethodKind.Aggregator)
        {
            Aggregators.Create(specification, seed);
            return method;
        }
        using var scope = NewDisposeScope();
        // A stand-in shared layer, so that GradNorm's arguments can be checked before the model exists.
        var layer = new Parameter(zeros(1), requires_grad: true);
        var weighting = LossWeightings.Create(specification, seed, new LossWeightingContext(2, SharedLayerWeight: layer));
        if (weighting is ILearnableLossWeighting learnable)
        {
            foreach (var parameter in learnable.parameters())
            {
                parameter.Dispose();
            }
        }
        return method;
    }

    /// <summary>Splits <c>name[:key=value[,key=value…]]</c> into the trimmed name and the (case-insensitive) arguments.</summary>
    /// <exception cref="ArgumentException">Empty specification or a malformed argument.</exception>
    internal static (string Name, Dictionary<string, string> Values) Split(string specification)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(specification);
        var colon = specification.IndexOf(':');
        var name = (colon < 0 ? specification : specification[..colon]).Trim();
        if (name.Length == 0)
        {
            throw new ArgumentException($"The method specification '{specification}' has no method name before ':'.");
        }
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (colon >= 0)
        {
            foreach (var pair in specification[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var equals = pair.IndexOf('=');
                if (equals <= 0 || equals == pair.Length - 1)
                {
                    throw new ArgumentException($"Malformed method argument '{pair}' in '{specification}'; expected key=value.");
                }
                values[pair[..equals].Trim()] = pair[(equals + 1)..].Trim();
            }
        }
        return (name, values);
    }
}
