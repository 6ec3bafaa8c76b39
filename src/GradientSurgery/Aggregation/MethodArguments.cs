using System.Globalization;

namespace GradientSurgery.Aggregation;

/// <summary>
/// The arguments of one method specification such as <c>cagrad:c=0.4</c> or <c>pcgrad:reduction=mean</c>:
/// the run's seed and named values. Every named value must be read by the method's factory, so a typo is an
/// error instead of a silently ignored setting.
/// </summary>
public sealed class MethodArguments
{
    private readonly Dictionary<string, string> _values;
    private readonly HashSet<string> _read = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates arguments from a seed and named values.</summary>
    public MethodArguments(long seed, IReadOnlyDictionary<string, string>? values = null)
    {
        Seed = seed;
        _values = new Dictionary<string, string>(values ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The seed for methods that draw random numbers.</summary>
    public long Seed { get; }

    /// <summary>A floating-point value, or <paramref name="fallback"/> when absent.</summary>
    public double Double(string name, double fallback)
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out var text))
        {
            return fallback;
        }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            throw new ArgumentException($"'{name}={text}' is not a finite number.");
        }
        return value;
    }

    /// <summary>An integer value, or <paramref name="fallback"/> when absent.</summary>
    public int Int(string name, int fallback)
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out var text))
        {
            return fallback;
        }
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new ArgumentException($"'{name}={text}' is not an integer.");
    }

    /// <summary>A boolean value (true/false, 1/0, yes/no), or <paramref name="fallback"/> when absent.</summary>
    public bool Bool(string name, bool fallback)
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out var text))
        {
            return fallback;
        }
        return text.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => throw new ArgumentException($"'{name}={text}' is not a boolean (true or false)."),
        };
    }

    /// <summary>An enum value (case-insensitive), or <paramref name="fallback"/> when absent.</summary>
    public TEnum Enum<TEnum>(string name, TEnum fallback)
        where TEnum : struct, Enum
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out var text))
        {
            return fallback;
        }
        return System.Enum.TryParse<TEnum>(text, ignoreCase: true, out var value) && System.Enum.IsDefined(value)
            ? value
            : throw new ArgumentException($"'{name}={text}' is not one of {string.Join(", ", System.Enum.GetNames<TEnum>()).ToLowerInvariant()}.");
    }

    /// <summary>Throws if a value was given that the factory never read.</summary>
    internal void EnsureAllRead(string method)
    {
        var unknown = _values.Keys.Where(k => !_read.Contains(k)).ToArray();
        if (unknown.Length > 0)
        {
            var known = _read.Count == 0 ? "it takes no arguments" : "it takes " + string.Join(", ", _read);
            throw new ArgumentException($"Method '{method}' has no argument {string.Join(", ", unknown.Select(k => $"'{k}'"))}; {known}.");
        }
    }
}
