using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace GradientSurgery.Cli.Commands;

/// <summary>Options and checks shared by the subcommands.</summary>
internal static class CommonOptions
{
    public static Option<long> Seed() => new("--seed")
    {
        Description = "Seed of everything random (data, initial weights, batches, methods); the same seed gives the same run.",
        DefaultValueFactory = _ => 0,
    };

    public static Option<string?> Out(string defaultDescription) => new("--out")
    {
        Description = $"Output directory (default: {defaultDescription}).",
    };

    public static Option<int?> PositiveInt(string name, string description)
    {
        var option = new Option<int?>(name) { Description = description };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } value && value <= 0)
            {
                result.AddError($"{name} must be a positive integer, got {value}.");
            }
        });
        return option;
    }

    public static Option<double> PositiveDouble(string name, string description, double fallback)
    {
        var option = new Option<double>(name) { Description = description, DefaultValueFactory = _ => fallback };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<double>();
            if (!(value > 0) || !double.IsFinite(value))
            {
                result.AddError($"{name} must be a positive number, got {value.ToString(CultureInfo.InvariantCulture)}.");
            }
        });
        return option;
    }

    /// <summary>Every method name, by kind, for help texts.</summary>
    public static string MethodList =>
        $"aggregators {string.Join(", ", MethodCatalog.NamesOf(MethodKind.Aggregator))}; loss weightings {string.Join(", ", MethodCatalog.NamesOf(MethodKind.LossWeighting))}";

    /// <summary>
    /// Splits a comma-separated method list, checks every specification (aggregator or loss weighting: name,
    /// arguments and values) through <see cref="MethodCatalog"/> and returns them with aliases replaced by the
    /// methods' names (<c>ew</c> → <c>mean</c>), so that runs record one name per method.
    /// </summary>
    public static IReadOnlyList<string> Methods(string? list, IReadOnlyList<string> fallback, long seed)
    {
        var methods = string.IsNullOrWhiteSpace(list)
            ? fallback
            : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        try
        {
            return [.. methods.Select(method =>
            {
                MethodCatalog.Validate(method, seed);
                return MethodCatalog.Canonical(method);
            })];
        }
        catch (ArgumentException invalid)
        {
            throw new UsageException(OneLine(invalid), invalid);
        }
    }

    /// <summary>
    /// The message of an argument exception on one line, without the parameter name .NET appends (e.g. a
    /// method's constructor rejecting a value: "… (Parameter 'mu')" and "Actual value was 0." on a second line).
    /// </summary>
    private static string OneLine(ArgumentException invalid)
    {
        var text = invalid.ParamName is { } name ? invalid.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : invalid.Message;
        return string.Join(" ", text.Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>Creates the output directory and proves it writable before any work starts.</summary>
    public static string OutputDirectory(string? requested, string defaultName)
    {
        var directory = Path.GetFullPath(requested ?? Path.Combine("runs", $"{defaultName}-{DateTime.Now:yyyyMMdd-HHmmss}"));
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".write-test-{Guid.NewGuid():N}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception failure) when (failure is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new UsageException($"cannot write to output directory '{directory}': {failure.Message}", failure);
        }
        return directory;
    }
}
