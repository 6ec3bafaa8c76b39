using System.CommandLine;
using System.Diagnostics;
using GradientSurgery.Experiments.Synthetic;
using GradientSurgery.Experiments.Toy;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary>
/// <c>gsurg demo</c>: the README's first command. On built-in defaults, with no files and no downloads, it runs
/// the paper's toy and a synthetic multi-task regression benchmark (equal weighting against PCGrad over a few
/// seeds), and writes a report with figures, CSV files and TensorBoard event files.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var seed = CommonOptions.Seed();
        var seeds = CommonOptions.PositiveInt("--seeds", "Seeds per method for the synthetic benchmark (default 3): seed, seed+1, ….");
        var steps = CommonOptions.PositiveInt("--steps", "Adam steps of each synthetic run (default 2,000).");
        var toySteps = CommonOptions.PositiveInt("--toy-steps", "Adam steps of the toy (default 500,000: the paper's full run).");
        var tasks = CommonOptions.PositiveInt("--tasks", "Tasks of the synthetic benchmark (default 4, at least 2).");
        var methods = new Option<string?>("--methods")
        {
            Description = $"Comma-separated methods compared on the synthetic benchmark, each 'name[:key=value,...]': {CommonOptions.MethodList} (default 'mean,pcgrad': equal weighting against PCGrad).",
        };
        var output = CommonOptions.Out("runs/demo-<timestamp>");
        var command = new Command("demo", "Run the paper's toy and a synthetic multi-task benchmark on built-in defaults (no downloads); writes report.md, PNGs, CSVs and TensorBoard events.")
        {
            seed, seeds, steps, toySteps, tasks, methods, output,
        };
        command.SetAction(parse =>
        {
            var runSeed = parse.GetValue(seed);
            var taskCount = parse.GetValue(tasks) ?? 4;
            if (taskCount < 2)
            {
                throw new UsageException($"--tasks must be at least 2, got {taskCount}.");
            }
            var options = new DemoOptions(
                runSeed,
                parse.GetValue(seeds) ?? 3,
                new SyntheticConfig(Tasks: taskCount, Steps: parse.GetValue(steps) ?? 2000),
                CommonOptions.Methods(parse.GetValue(methods), ["mean", "pcgrad"], runSeed),
                new ToyOptions(new PaperLandscape(), ["sum", "pcgrad"], new PaperLandscape().DefaultStarts, parse.GetValue(toySteps) ?? 500_000, 0.001, runSeed));
            var directory = CommonOptions.OutputDirectory(parse.GetValue(output), "demo");
            Run(console, options, directory);
            return GsurgApp.Success;
        });
        return command;
    }

    private static void Run(IAnsiConsole console, DemoOptions options, string directory)
    {
        var clock = Stopwatch.StartNew();
        console.MarkupLine("[bold]1. The paper's toy[/] (Figure 1): Adam on L1 + L2 against Adam with PCGrad.");
        var toyDirectory = Directory.CreateDirectory(Path.Combine(directory, "toy")).FullName;
        var toyRuns = ToyCommand.RunWithProgress(console, options.Toy);
        ToyOutputs.Write(console, options.Toy, toyRuns, toyDirectory);

        console.MarkupLine($"[bold]2. Synthetic multi-task regression[/]: {options.Synthetic.Tasks} tasks, scales 1 to {options.Synthetic.LargestScale:G3}, {options.Seeds} seeds per method.");
        var synthetic = SyntheticOutputs.Run(console, options, Path.Combine(directory, "synthetic"));

        DemoReport.Write(Path.Combine(directory, "report.md"), options, toyRuns, synthetic, clock.Elapsed);
        console.MarkupLineInterpolated($"[green]Wrote[/] {directory} (report.md, PNGs, CSVs, TensorBoard events) in {clock.Elapsed.TotalSeconds:F0} s.");
    }
}

/// <summary>A fully resolved demo request.</summary>
internal sealed record DemoOptions(long Seed, int Seeds, SyntheticConfig Synthetic, IReadOnlyList<string> Methods, ToyOptions Toy)
{
    public IEnumerable<long> RunSeeds => Enumerable.Range(0, Seeds).Select(k => Seed + k);
}
