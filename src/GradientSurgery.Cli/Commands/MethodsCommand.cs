using System.CommandLine;
using System.Text;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary>
/// <c>gsurg methods [--markdown]</c>: every method of <see cref="MethodCatalog"/> with its kind, name, aliases, display
/// name, argument keys (aliases, type, default) and paper; <c>--markdown</c> prints the table of docs/methods.md's
/// "Method arguments" section.
/// </summary>
internal static class MethodsCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var markdown = new Option<bool>("--markdown")
        {
            Description = "Print one Markdown table instead (kind, name, aliases, display name, keys, paper): the 'Method arguments' section of docs/methods.md is this output.",
        };
        var command = new Command("methods",
            "List every method, aggregators and loss weightings: its name and aliases, display name, argument keys (with their aliases, type and default) " +
            "and paper. Select one with name[:key=value,...] in 'gsurg train --method', 'gsurg toy --methods' or 'gsurg demo --methods'.")
        {
            markdown,
        };
        command.SetAction(parse =>
        {
            var methods = MethodCatalog.All.Select(m => new Listed(m, MethodCatalog.Parameters(m))).ToArray();
            if (parse.GetValue(markdown))
            {
                // Straight to the output, not through Spectre: a Markdown line must not be wrapped at the console's width.
                console.Profile.Out.Writer.Write(Markdown(methods));
            }
            else
            {
                Write(console, methods);
            }
            return GsurgApp.Success;
        });
        return command;
    }

    private sealed record Listed(MethodEntry Method, IReadOnlyList<MethodParameter> Parameters);

    /// <summary>
    /// One block per method, in three columns (name, field, value). The values are word-wrapped inside their column
    /// at the console's width (80 when the output is redirected), so the listing stays aligned in a narrow terminal
    /// or a file, and no line is padded with trailing spaces.
    /// </summary>
    private static void Write(IAnsiConsole console, Listed[] methods)
    {
        const int FieldWidth = 7;
        var nameWidth = methods.Max(m => m.Method.Name.Length);
        var indent = 2 + nameWidth + 2 + FieldWidth + 2;
        var valueWidth = Math.Max(console.Profile.Width - indent, 24);
        void Row(string name, string field, string value)
        {
            var lines = value.Split('\n').SelectMany(paragraph => Wrap(paragraph, valueWidth)).ToArray();
            console.MarkupLine($"  [bold]{Markup.Escape(name.PadRight(nameWidth))}[/]  [dim]{field.PadRight(FieldWidth)}[/]  {Markup.Escape(lines[0])}");
            foreach (var line in lines.Skip(1))
            {
                console.MarkupLine(new string(' ', indent) + Markup.Escape(line));
            }
        }
        foreach (var kind in new[] { MethodKind.Aggregator, MethodKind.LossWeighting })
        {
            var ofKind = methods.Where(m => m.Method.Kind == kind).ToArray();
            console.MarkupLine(kind == MethodKind.Aggregator
                ? $"[bold]Aggregators[/] ({ofKind.Length}): act on the per-task Jacobian of the shared parameters"
                : $"[bold]Loss weightings[/] ({ofKind.Length}): act on the losses; one ordinary backward");
            foreach (var (method, parameters) in ofKind)
            {
                console.WriteLine();
                Row(method.Name, "kind", Kind(method.Kind));
                Row("", "aliases", method.Aliases.Count == 0 ? "–" : string.Join(", ", method.Aliases));
                Row("", "display", method.DisplayName);
                Row("", "keys", parameters.Count == 0 ? "–" : string.Join("\n", parameters.Select(p => Describe(p, code: s => s))));
                Row("", "paper", method.Reference);
            }
            console.WriteLine();
        }
        console.WriteLine("Arguments: name:key=value,... e.g. cagrad:c=0.4 or famo:lr=0.01.");
        console.WriteLine("Names and keys are case-insensitive; an alias works wherever its key does.");
    }

    /// <summary>Word-wraps one paragraph at <paramref name="width"/> (a longer word gets a line of its own).</summary>
    private static IEnumerable<string> Wrap(string paragraph, int width)
    {
        var line = new StringBuilder();
        foreach (var word in paragraph.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                yield return line.ToString();
                line.Clear();
            }
            line.Append(line.Length > 0 ? " " : "").Append(word);
        }
        yield return line.ToString();
    }

    /// <summary>One Markdown table, one row per method in catalog order, with <c>\n</c> line endings.</summary>
    private static string Markdown(Listed[] methods)
    {
        static string Code(string text) => $"`{text}`";
        var text = new StringBuilder("| kind | name | aliases | display name | keys: `key` (aliases) = `default` (type) | paper |\n|---|---|---|---|---|---|\n");
        foreach (var (method, parameters) in methods)
        {
            string[] cells =
            [
                Kind(method.Kind),
                Code(method.Name),
                method.Aliases.Count == 0 ? "–" : string.Join(", ", method.Aliases.Select(Code)),
                method.DisplayName,
                parameters.Count == 0 ? "–" : string.Join("<br>", parameters.Select(p => Describe(p, Code))),
                method.Reference,
            ];
            text.Append("| ").AppendJoin(" | ", cells.Select(c => c.Replace("|", "\\|", StringComparison.Ordinal))).Append(" |\n");
        }
        return text.ToString();
    }

    private static string Kind(MethodKind kind) => kind == MethodKind.Aggregator ? "aggregator" : "loss weighting";

    /// <summary><c>key (alias, …) = default (type)</c>, an enum's type as its names: <c>reduction = sum (sum or mean)</c>.</summary>
    private static string Describe(MethodParameter parameter, Func<string, string> code)
    {
        var aliases = parameter.Aliases.Count == 0 ? "" : $" ({string.Join(", ", parameter.Aliases.Select(code))})";
        var names = parameter.Type.Split('|');
        var type = names.Length == 1 ? parameter.Type : string.Join(", ", names[..^1].Select(code)) + " or " + code(names[^1]);
        return $"{code(parameter.Name)}{aliases} = {code(parameter.Default)} ({type})";
    }
}
