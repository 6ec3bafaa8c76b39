using System.Globalization;

namespace GradientSurgery;

/// <summary>
/// One argument a method takes, as its factory declares it by reading it: the key (a constructor parameter's
/// name), its aliases (the paper's symbol or an older key), its type and its default.
/// </summary>
/// <param name="Name">The key, equal to the name of the constructor parameter it sets (keys are case-insensitive).</param>
/// <param name="Aliases">Other accepted keys.</param>
/// <param name="Type">What the value must be: number, integer, boolean or one of an enum's names.</param>
/// <param name="Default">The value used when the specification does not give one, as text.</param>
public sealed record MethodParameter(string Name, IReadOnlyList<string> Aliases, string Type, string Default);

/// <summary>
/// The arguments of one method specification such as <c>cagrad:c=0.4</c> or <c>pcgrad:reduction=mean</c>:
/// the run's seed and named values. Every named value must be read by the method's factory, so a typo is an
/// error instead of a silently ignored setting; the reads are recorded, which is how
/// <see cref="MethodCatalog.Parameters"/> lists a method's keys and defaults without a second list to keep in step.
/// </summary>
public sealed class MethodArguments
{
    private readonly Dictionary<string, string> _values;
    private readonly HashSet<string> _read = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<MethodParameter> _declared = [];

    /// <summary>Creates arguments from a seed and named values.</summary>
    public MethodArguments(long seed, IReadOnlyDictionary<string, string>? values = null)
    {
        Seed = seed;
        _values = new Dictionary<string, string>(values ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The seed for methods that draw random numbers.</summary>
    public long Seed { get; }

    /// <summary>The arguments the factory has read so far, in reading order.</summary>
    public IReadOnlyList<MethodParameter> Declared => _declared;

    /// <summary>A floating-point value, or <paramref name="fallback"/> when absent.</summary>
    public double Double(string name, double fallback, params string[] aliases) =>
        Read(name, aliases, "number", Format(fallback), fallback, (key, text) =>
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
                ? value
                : throw new ArgumentException($"'{key}={text}' is not a finite number."));

    /// <summary>An integer value, or <paramref name="fallback"/> when absent.</summary>
    public int Int(string name, int fallback, params string[] aliases) =>
        Read(name, aliases, "integer", fallback.ToString(CultureInfo.InvariantCulture), fallback, (key, text) =>
            int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
                ? value
                : throw new ArgumentException($"'{key}={text}' is not an integer."));

    /// <summary>A boolean value (true/false, 1/0, yes/no), or <paramref name="fallback"/> when absent.</summary>
    public bool Bool(string name, bool fallback, params string[] aliases) =>
        Read(name, aliases, "boolean", fallback ? "true" : "false", fallback, (key, text) => text.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => throw new ArgumentException($"'{key}={text}' is not a boolean (true or false)."),
        });

    /// <summary>An enum value (case-insensitive), or <paramref name="fallback"/> when absent.</summary>
    public TEnum Enum<TEnum>(string name, TEnum fallback, params string[] aliases)
        where TEnum : struct, Enum =>
        ReadEnum(name, fallback, fallback.ToString().ToLowerInvariant(), aliases);

    /// <summary>
    /// An enum value (case-insensitive) whose default is not the method's but the training loop's (UW's likelihood
    /// follows the tasks' losses), so that listings describe the default with <paramref name="defaultSource"/>.
    /// </summary>
    public TEnum EnumDefaultedBy<TEnum>(string name, TEnum fallback, string defaultSource, params string[] aliases)
        where TEnum : struct, Enum =>
        ReadEnum(name, fallback, defaultSource, aliases);

    private TEnum ReadEnum<TEnum>(string name, TEnum fallback, string defaultText, string[] aliases)
        where TEnum : struct, Enum
    {
        var names = string.Join("|", System.Enum.GetNames<TEnum>()).ToLowerInvariant();
        return Read(name, aliases, names, defaultText, fallback, (key, text) =>
            System.Enum.TryParse<TEnum>(text, ignoreCase: true, out var value) && System.Enum.IsDefined(value)
                ? value
                : throw new ArgumentException($"'{key}={text}' is not one of {names.Replace("|", ", ", StringComparison.Ordinal)}."));
    }

    private T Read<T>(string name, string[] aliases, string type, string defaultText, T fallback, Func<string, string, T> parse)
    {
        _declared.Add(new MethodParameter(name, aliases, type, defaultText));
        string[] keys = [name, .. aliases];
        var given = keys.Where(_values.ContainsKey).ToArray();
        foreach (var key in keys)
        {
            _read.Add(key);
        }
        return given.Length switch
        {
            0 => fallback,
            1 => parse(given[0], _values[given[0]]),
            _ => throw new ArgumentException($"'{given[0]}' and '{given[1]}' name the same argument; give it once."),
        };
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Throws if a value was given that the factory never read.</summary>
    internal void EnsureAllRead(string method)
    {
        var unknown = _values.Keys.Where(k => !_read.Contains(k)).ToArray();
        if (unknown.Length > 0)
        {
            var known = _declared.Count == 0 ? "it takes no arguments" : "it takes " + string.Join(", ", _declared.Select(Describe));
            throw new ArgumentException($"Method '{method}' has no argument {string.Join(", ", unknown.Select(k => $"'{k}'"))}; {known}.");
        }
    }

    private static string Describe(MethodParameter parameter) =>
        parameter.Aliases.Count == 0 ? parameter.Name : $"{parameter.Name} ({string.Join(", ", parameter.Aliases)})";
}
