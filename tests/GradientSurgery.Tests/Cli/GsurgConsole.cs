using GradientSurgery.Cli;
using Spectre.Console;

namespace GradientSurgery.Tests.Cli;

/// <summary>Runs <c>gsurg</c> in-process on a plain 80-column console and captures what it prints.</summary>
internal static class GsurgConsole
{
    public static (int Code, string Output, string Error) Run(params string[] args) => Run(default, args);

    public static (int Code, string Output, string Error) Run(CancellationToken stop, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 80;
        var code = GsurgApp.Run(args, console, error, stop);
        return (code, output.ToString(), error.ToString());
    }
}
