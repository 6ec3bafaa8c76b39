using System.CommandLine;
using GradientSurgery.Cli.Commands;
using Spectre.Console;

namespace GradientSurgery.Cli;

/// <summary>The <c>gsurg</c> command line: parsing, dispatch and the exit-code convention.</summary>
public static class GsurgApp
{
    /// <summary>Exit code of a successful run.</summary>
    public const int Success = 0;

    /// <summary>Exit code when the command line is invalid (unknown option or method, out-of-range value, unwritable directory).</summary>
    public const int UsageError = 2;

    /// <summary>
    /// Exit code when a run fails after it started (bad data, a corrupt checkpoint, numerical failure): the same as a
    /// usage error, so that scripts test one code; the one line on standard error says which.
    /// </summary>
    public const int RunFailure = 2;

    /// <summary>Parses <paramref name="args"/> and runs the command; a usage error prints one line to <paramref name="error"/>.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="console">Where output goes.</param>
    /// <param name="error">Where one-line errors go.</param>
    /// <param name="stop">Stops a long command as Ctrl+C does (training: after the current step, with a checkpoint).</param>
    public static int Run(string[] args, IAnsiConsole console, TextWriter error, CancellationToken stop = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(error);
        var root = new RootCommand(
            "gsurg — GradientSurgery: multi-task learning with PCGrad and other gradient aggregators on TorchSharp.\n" +
            "Run 'gsurg demo' for a two-minute tour on built-in data, 'gsurg methods' for the methods and their arguments.")
        {
            DemoCommand.Create(console),
            ToyCommand.Create(console),
            TrainCommand.Create(console),
            EvalCommand.Create(console),
            DataCommand.Create(console),
            SummarizeCommand.Create(console),
            RlCommand.Create(console),
            MethodsCommand.Create(console),
        };
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line, most specific error first (an unknown token says more than "required command missing").
            var messages = parse.Errors.Select(e => string.Join(" ", e.Message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries)))
                .OrderBy(m => m.StartsWith("Required command", StringComparison.Ordinal));
            error.WriteLine($"gsurg: {string.Join("; ", messages)}");
            return UsageError;
        }
        try
        {
            return parse.InvokeAsync(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                Output = console.Profile.Out.Writer,
                Error = error,
            }, stop).GetAwaiter().GetResult();
        }
        catch (Exception usage) when (usage is UsageException or ArgumentException)
        {
            error.WriteLine($"gsurg: {usage.Message}");
            return UsageError;
        }
        catch (Exception failure) when (failure is ArithmeticException or InvalidDataException or IOException or InvalidOperationException)
        {
            error.WriteLine($"gsurg: {failure.Message}");
            return RunFailure;
        }
    }
}
