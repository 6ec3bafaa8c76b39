using System.Globalization;
using GradientSurgery.Cli.Plotting;
using GradientSurgery.Experiments.Toy;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary>The toy's table, CSV files and figure.</summary>
internal static class ToyOutputs
{
    public static string FigureName(IToyLandscape landscape) => landscape.Name == "paper" ? "figure1.png" : $"toy-{landscape.Name}.png";

    public static void Write(IAnsiConsole console, ToyOptions options, IReadOnlyList<ToyRun> runs, string directory)
    {
        var table = new Table().Title($"Toy '{options.Landscape.Name}': Adam, lr {Format(options.LearningRate)}, {options.Steps:N0} steps")
            .AddColumns("method", "start", "final θ1", "final θ2", "L1", "L2");
        foreach (var run in runs)
        {
            table.AddRow(
                Markup.Escape(run.DisplayName), $"({Format(run.Start.X)}, {Format(run.Start.Y)})",
                Format(run.Final.X, "F3"), Format(run.Final.Y, "F3"), Format(run.FinalLosses.L1, "F2"), Format(run.FinalLosses.L2, "F2"));
        }
        console.Write(table);

        using (var summary = new StreamWriter(Path.Combine(directory, "summary.csv")))
        {
            summary.WriteLine("method,start_x,start_y,steps,final_x,final_y,L1,L2");
            foreach (var run in runs)
            {
                summary.WriteLine(string.Join(",", Quote(run.Method), Format(run.Start.X), Format(run.Start.Y), run.Steps.ToString(CultureInfo.InvariantCulture),
                    Format(run.Final.X), Format(run.Final.Y), Format(run.FinalLosses.L1), Format(run.FinalLosses.L2)));
            }
        }
        using (var trajectories = new StreamWriter(Path.Combine(directory, "trajectories.csv")))
        {
            trajectories.WriteLine("method,start_x,start_y,step,x,y,L1,L2");
            foreach (var run in runs)
            {
                foreach (var (step, x, y) in run.Trajectory)
                {
                    var (l1, l2) = options.Landscape.Losses(x, y);
                    trajectories.WriteLine(string.Join(",", Quote(run.Method), Format(run.Start.X), Format(run.Start.Y), step.ToString(CultureInfo.InvariantCulture),
                        Format(x), Format(y), Format(l1), Format(l2)));
                }
            }
        }
        ToyFigure.Save(options.Landscape, runs, Path.Combine(directory, FigureName(options.Landscape)));
    }

    private static string Quote(string text) => text.Contains(',') ? $"\"{text.Replace("\"", "\"\"")}\"" : text;

    private static string Format(double value, string format = "R") => value.ToString(format, CultureInfo.InvariantCulture);
}
