using System.CommandLine;
using System.Globalization;
using GradientSurgery.Aggregation;
using GradientSurgery.Cli.Plotting;
using GradientSurgery.Experiments.Toy;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary><c>gsurg toy</c>: Figure 1 of the PCGrad paper (or the CAGrad landscape) for every method.</summary>
internal static class ToyCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var landscape = new Option<string>("--landscape")
        {
            Description = "Which landscape: 'paper' (Figure 1 of Yu et al. 2020, start (0.5, -3), 500,000 steps) or 'cagrad' (the CAGrad/Nash-MTL/FAMO toy, five starts, 100,000 steps).",
            DefaultValueFactory = _ => "paper",
        };
        landscape.AcceptOnlyFromAmong([.. ToyLandscapes.All.Select(l => l.Name)]);
        var methods = new Option<string?>("--methods")
        {
            Description = $"Comma-separated methods, each 'name[:key=value,...]': {CommonOptions.MethodList}. Default: every aggregator; loss weightings are slower (autograd on tensors) and run when named. 'sum' is plain Adam on L1 + L2.",
        };
        var epochSteps = CommonOptions.PositiveInt("--epoch-steps", $"For loss weightings that work per epoch (DWA): the toy has no data, so every N steps form an epoch (default {ToyOptimizer.DefaultEpochSteps:N0}).");
        var steps = CommonOptions.PositiveInt("--steps", "Adam steps per run (default: the landscape's, 500,000 for 'paper').");
        var learningRate = CommonOptions.PositiveDouble("--lr", "Adam's learning rate.", 0.001);
        var starts = new Option<string[]>("--start")
        {
            Description = "Start point 'x,y' (repeat for several; default: the landscape's). Write negative values as --start=-8.5,7.5.",
            AllowMultipleArgumentsPerToken = false,
        };
        var seed = CommonOptions.Seed();
        var output = CommonOptions.Out("runs/toy-<landscape>-<timestamp>");
        var command = new Command("toy", "Reproduce Figure 1 of the PCGrad paper: Adam on a two-task 2-D landscape with each method; writes a table, trajectories.csv, summary.csv and a PNG.")
        {
            landscape, methods, steps, learningRate, starts, seed, epochSteps, output,
        };
        command.SetAction(parse =>
        {
            var chosen = ToyLandscapes.Find(parse.GetValue(landscape)!);
            var runSeed = parse.GetValue(seed);
            var options = new ToyOptions(
                chosen,
                CommonOptions.Methods(parse.GetValue(methods), [.. MethodCatalog.NamesOf(MethodKind.Aggregator)], runSeed),
                ParseStarts(parse.GetValue(starts)) ?? chosen.DefaultStarts,
                parse.GetValue(steps) ?? chosen.DefaultSteps,
                parse.GetValue(learningRate),
                runSeed,
                parse.GetValue(epochSteps) ?? ToyOptimizer.DefaultEpochSteps);
            var directory = CommonOptions.OutputDirectory(parse.GetValue(output), $"toy-{chosen.Name}");
            var runs = RunWithProgress(console, options);
            ToyOutputs.Write(console, options, runs, directory);
            console.MarkupLineInterpolated($"[green]Wrote[/] {directory}");
            return GsurgApp.Success;
        });
        return command;
    }

    /// <summary>Runs the toy with a progress bar, one task per method and start.</summary>
    public static IReadOnlyList<ToyRun> RunWithProgress(IAnsiConsole console, ToyOptions options)
    {
        IReadOnlyList<ToyRun> runs = [];
        console.Progress().AutoClear(false).Columns(
            new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var tasks = options.Methods.SelectMany(m => options.Starts.Select(s => context.AddTask(
                    $"{Markup.Escape(m)} from ({s.X.ToString(CultureInfo.InvariantCulture)}, {s.Y.ToString(CultureInfo.InvariantCulture)})",
                    maxValue: options.Steps))).ToArray();
                runs = ToyExperiment.Run(options.Landscape, options.Methods, options.Starts, options.Steps, options.LearningRate, options.Seed,
                    (run, done) => tasks[run].Value = done, options.EpochSteps);
            });
        return runs;
    }

    private static IReadOnlyList<(double X, double Y)>? ParseStarts(string[]? values)
    {
        if (values is null || values.Length == 0)
        {
            return null;
        }
        return values.Select(value =>
        {
            var parts = value.Split(',');
            if (parts.Length != 2
                || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var x)
                || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var y)
                || !double.IsFinite(x) || !double.IsFinite(y))
            {
                throw new UsageException($"--start '{value}' is not a point 'x,y' of two finite numbers.");
            }
            return (x, y);
        }).ToArray();
    }
}

/// <summary>A fully resolved toy run request.</summary>
internal sealed record ToyOptions(
    IToyLandscape Landscape, IReadOnlyList<string> Methods, IReadOnlyList<(double X, double Y)> Starts, int Steps, double LearningRate, long Seed,
    int EpochSteps = ToyOptimizer.DefaultEpochSteps);
