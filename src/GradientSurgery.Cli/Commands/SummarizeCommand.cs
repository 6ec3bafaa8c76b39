using System.CommandLine;
using System.Globalization;
using System.Text;
using GradientSurgery.Cli.Plotting;
using GradientSurgery.Experiments;
using GradientSurgery.Experiments.Reinforcement;
using GradientSurgery.Experiments.Supervised;
using GradientSurgery.Models;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary>One kind of run's part of a summary: its console table, the same as Markdown, and its plot panels.</summary>
internal sealed record SummarySection(Table Table, string Markdown, IReadOnlyList<LineChart.Panel> Panels);

/// <summary>
/// <c>gsurg summarize RUN...</c>: for runs of <c>gsurg train</c>, final test accuracy per task (mean ± std over seeds)
/// per benchmark and method; for runs of <c>gsurg rl train</c>, final and best success and return per suite and method
/// (<see cref="RlSummary"/>). Directories of both kinds may be mixed: one table per kind.
/// </summary>
internal static class SummarizeCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var runs = new Argument<string[]>("runs") { Description = "Run directories written by 'gsurg train' or 'gsurg rl train' (both kinds may be mixed).", Arity = ArgumentArity.OneOrMore };
        var markdown = new Option<string?>("--markdown") { Description = "Also write the tables as Markdown to this file (for RL runs, with a second table: final success per task and method)." };
        var plot = new Option<string?>("--plot") { Description = "Also draw to this PNG: for training runs, test accuracy per epoch, one panel per benchmark and task; for RL runs, mean success per vector step, one panel per suite; one line per method (mean over seeds, band = ± std)." };
        var command = new Command("summarize",
            "Summarise finished runs, one table per kind, grouped by benchmark (or suite) and method, mean ± std over seeds: for 'gsurg train', final-epoch test accuracy per task and time per epoch; for 'gsurg rl train', final mean success and return, best mean success over the run, and time per 1000 vector steps.")
        {
            runs, markdown, plot,
        };
        command.SetAction(parse =>
        {
            // Classify every directory before reading any, so that a mistyped one fails at once and by name.
            var directories = parse.GetValue(runs)!.Select(d => (Directory: d, Reinforcement: IsReinforcementRun(d))).ToArray();
            List<SummarySection> sections = [];
            if (directories.Where(d => !d.Reinforcement).Select(d => d.Directory).ToArray() is { Length: > 0 } supervised)
            {
                // NYUv2's dense runs have other metrics than accuracy: a table of their own.
                var dense = supervised.Where(d => MultiTaskTrainer<MultiTaskModule>.ReadSettings(d).Benchmark == SupervisedBenchmarks.Nyuv2).ToArray();
                if (supervised.Except(dense).ToArray() is { Length: > 0 } classification)
                {
                    sections.Add(Supervised(classification));
                }
                if (dense.Length > 0)
                {
                    sections.Add(Dense(dense));
                }
            }
            if (directories.Where(d => d.Reinforcement).Select(d => d.Directory).ToArray() is { Length: > 0 } reinforcement)
            {
                sections.Add(RlSummary.Create(reinforcement));
            }
            foreach (var section in sections)
            {
                console.Write(section.Table);
            }
            if (parse.GetValue(markdown) is { } path)
            {
                AtomicFile.WriteAllText(path, string.Join("\n", sections.Select(s => s.Markdown)));
            }
            if (parse.GetValue(plot) is { } png)
            {
                LineChart.Panel[] panels = [.. sections.SelectMany(s => s.Panels)];
                LineChart.Save(png, panels, "epoch", columns: Math.Min(2, panels.Length), legend: ScottPlot.Alignment.LowerRight);
                console.MarkupLineInterpolated($"Wrote {png}.");
            }
            return GsurgApp.Success;
        });
        return command;
    }

    /// <summary>
    /// Whether <paramref name="directory"/> is a run of <c>gsurg rl train</c> (a checkpoint or an RL metrics.csv, and no
    /// run.json) rather than of <c>gsurg train</c> (run.json, written when training starts): both kinds keep a <c>checkpoint.bin</c>.
    /// </summary>
    /// <exception cref="UsageException">Neither kind of run.</exception>
    private static bool IsReinforcementRun(string directory)
    {
        if (File.Exists(MultiTaskTrainer<MultiTaskModule>.SettingsPath(directory)))
        {
            return false;
        }
        if (RlSummary.IsRun(directory))
        {
            return true;
        }
        throw new UsageException(Directory.Exists(directory)
            ? $"{directory} is not a run directory: it has neither run.json ('gsurg train') nor {RlTrainer.CheckpointName} or an RL metrics.csv ('gsurg rl train')."
            : $"{directory} is not a run directory: it does not exist.");
    }

    private static SummarySection Supervised(IEnumerable<string> directories)
    {
        var rows = directories.Select(Read).GroupBy(r => (r.Settings.Benchmark, r.Settings.Architecture, r.Settings.Method))
            .OrderBy(g => g.Key.Benchmark).ThenBy(g => Array.IndexOf([.. Architectures.Names], g.Key.Architecture)).ThenBy(g => g.Key.Method).ToArray();
        var (first, second) = AccuracyNames(rows.SelectMany(g => g));
        var table = new Table { Title = new TableTitle("training runs") }.AddColumns("benchmark", "arch", "method", "seeds", "epochs", $"{first} acc %", $"{second} acc %", "s / epoch");
        var text = new StringBuilder($"| benchmark | architecture | method | seeds | epochs | {first} accuracy (%) | {second} accuracy (%) | time per epoch (s) |\n|---|---|---|---:|---:|---:|---:|---:|\n");
        foreach (var group in rows)
        {
            string[] cells =
            [
                group.Key.Benchmark, group.Key.Architecture, group.Key.Method, group.Count().ToString(CultureInfo.InvariantCulture),
                string.Join("/", group.Select(r => (int)r.Final[0]).Distinct()),
                Stats(group.Select(r => 100 * r.Final[1])),
                Stats(group.Select(r => 100 * r.Final[2])),
                Stats(group.Select(r => r.SecondsPerEpoch)),
            ];
            AddRow(table, text, cells);
        }
        return new SummarySection(table, text.ToString(), [.. rows.GroupBy(g => g.Key.Benchmark).SelectMany(methods => AccuracyPanels(methods, [first, second]))]);
    }

    /// <summary>
    /// NYUv2 runs: final-epoch mIoU, pixel accuracy, depth absolute and relative error and mean normal angle error (mean ±
    /// std over seeds) per architecture and method; no plot panels.
    /// </summary>
    private static SummarySection Dense(IEnumerable<string> directories)
    {
        string[] metrics = ["test/segmentation_miou", "test/segmentation_pixel_accuracy", "test/depth_abs_error", "test/depth_rel_error", "test/normal_mean_angle", "test/normal_median_angle"];
        double[] scale = [100, 100, 1, 1, 1, 1];
        var runs = directories.Select(d => (Settings: MultiTaskTrainer<MultiTaskModule>.ReadSettings(d), Columns: LastRow(d))).ToArray();
        var groups = runs.GroupBy(r => (r.Settings.Architecture, r.Settings.Method))
            .OrderBy(g => Array.IndexOf([.. DenseArchitectures.Names], g.Key.Architecture)).ThenBy(g => g.Key.Method).ToArray();
        var table = new Table { Title = new TableTitle("nyuv2 runs") }
            .AddColumns("arch", "method", "seeds", "epochs", "mIoU %", "pixel acc %", "depth abs err", "depth rel err", "normal mean °", "normal median °", "s / epoch");
        var text = new StringBuilder("| architecture | method | seeds | epochs | mIoU (%) | pixel accuracy (%) | depth abs. error | depth rel. error | normal mean (°) | normal median (°) | time per epoch (s) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var group in groups)
        {
            string[] cells =
            [
                group.Key.Architecture, group.Key.Method, group.Count().ToString(CultureInfo.InvariantCulture),
                string.Join("/", group.Select(r => (int)r.Columns["epoch"]).Distinct()),
                .. metrics.Select((m, k) => Stats(group.Select(r => scale[k] * r.Columns[m]))),
                Stats(group.Select(r => r.Columns["time/epoch_seconds"])),
            ];
            AddRow(table, text, cells);
        }
        return new SummarySection(table, text.ToString(), []);
    }

    /// <summary>The last row of a run's metrics.csv by column name.</summary>
    private static Dictionary<string, double> LastRow(string directory)
    {
        var path = Path.Combine(directory, "metrics.csv");
        var lines = File.ReadAllLines(path);
        if (lines.Length < 2)
        {
            throw new InvalidDataException($"{path} has no finished epoch.");
        }
        var header = lines[0].Split(',');
        var last = lines[^1].Split(',');
        return header.Select((name, k) => (name, value: k < last.Length && double.TryParse(last[k], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN))
            .ToDictionary(c => c.name, c => c.value);
    }

    /// <summary>Adds one row to the console table (escaped: method arguments may hold brackets) and to the Markdown.</summary>
    internal static void AddRow(Table table, StringBuilder markdown, string[] cells)
    {
        table.AddRow([.. cells.Select(Markup.Escape)]);
        markdown.Append(CultureInfo.InvariantCulture, $"| {string.Join(" | ", cells)} |\n");
    }

    /// <summary>Test accuracy (%) per epoch of one benchmark's methods: a left and a right panel (or mean and worst task), a line per method.</summary>
    private static IEnumerable<LineChart.Panel> AccuracyPanels(IEnumerable<IGrouping<(string Benchmark, string Architecture, string Method), RunSummary>> methods, string[] sides)
    {
        var groups = methods.ToArray();
        // Several architectures: a colour per architecture, the first method of each solid and the others dashed.
        var byArchitecture = groups.Select(g => g.Key.Architecture).Distinct().Count() > 1;
        var firstMethod = groups.GroupBy(g => g.Key.Architecture).ToDictionary(a => a.Key, a => a.First().Key.Method);
        return sides.Select((side, task) => new LineChart.Panel(
            $"{groups[0].Key.Benchmark}: {side switch { "mean" => "mean over tasks", "worst task" => side, _ => side + " task" }}", "test accuracy (%)",
            [.. groups.Select(group =>
            {
                // Epochs that every seed has reached.
                var epochs = group.Min(r => r.TestAccuracy[task].Length);
                var perEpoch = Enumerable.Range(0, epochs).Select(e => group.Select(r => 100 * r.TestAccuracy[task][e]).ToArray()).ToArray();
                var architecture = byArchitecture || group.Key.Architecture != "hps" ? group.Key.Architecture + " " : "";
                return new LineChart.Series(
                    $"{architecture}{group.Key.Method} ({Seeds(group.Count())})",
                    [.. Enumerable.Range(1, epochs).Select(e => (double)e)],
                    [.. perEpoch.Select(v => v.Average())],
                    [.. perEpoch.Select(StandardDeviation)],
                    ColorGroup: byArchitecture ? group.Key.Architecture : null,
                    Dashed: byArchitecture && group.Key.Method != firstMethod[group.Key.Architecture]);
            })]));
    }

    private sealed record RunSummary(TrainingSettings Settings, int Tasks, double[] Final, double SecondsPerEpoch, double[][] TestAccuracy);

    /// <summary>The last row of metrics.csv (epoch, left and right test accuracy) and both test accuracies per epoch.</summary>
    private static RunSummary Read(string directory)
    {
        var settings = MultiTaskTrainer<MultiTaskModule>.ReadSettings(directory);
        var lines = File.ReadAllLines(Path.Combine(directory, "metrics.csv"));
        if (lines.Length < 2)
        {
            throw new InvalidDataException($"{Path.Combine(directory, "metrics.csv")} has no finished epoch.");
        }
        var header = lines[0].Split(',');
        int Column(string name) => Array.IndexOf(header, name) is var index and >= 0
            ? index
            : throw new InvalidDataException($"{Path.Combine(directory, "metrics.csv")} has no column '{name}'.");
        double Value(string[] row, string name) => double.Parse(row[Column(name)], CultureInfo.InvariantCulture);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToArray();
        var last = rows[^1];
        var tasks = header.Count(name => name.StartsWith("test_accuracy/task", StringComparison.Ordinal));
        // Two tasks: the left and the right one. More (CIFAR-100's 20, CelebA's 40): the mean over tasks and the worst task.
        double[] Accuracies(string[] row)
        {
            var accuracies = Enumerable.Range(0, tasks).Select(t => Value(row, $"test_accuracy/task{t}")).ToArray();
            return tasks == 2 ? accuracies : [accuracies.Average(), accuracies.Min()];
        }
        var perEpoch = rows.Select(Accuracies).ToArray();
        return new RunSummary(settings, tasks,
            [Value(last, "epoch"), perEpoch[^1][0], perEpoch[^1][1]],
            rows.Average(r => Value(r, "time/epoch_seconds")),
            [[.. perEpoch.Select(a => a[0])], [.. perEpoch.Select(a => a[1])]]);
    }

    /// <summary>What the two accuracy columns are: the left and right task of two-task runs, or the mean and worst task.</summary>
    private static (string First, string Second) AccuracyNames(IEnumerable<RunSummary> runs)
    {
        var kinds = runs.Select(r => r.Tasks == 2).Distinct().ToArray();
        return kinds.Length > 1
            ? throw new UsageException("Summarize two-task runs (left and right accuracy) and runs of more tasks (mean and worst task) separately.")
            : kinds[0] ? ("left", "right") : ("mean", "worst task");
    }

    /// <summary>"1 seed", "3 seeds": how many runs a legend entry averages.</summary>
    internal static string Seeds(int count) => count == 1 ? "1 seed" : $"{count} seeds";

    /// <summary>"mean ± std" of <paramref name="values"/>, two decimals.</summary>
    internal static string Stats(IEnumerable<double> values)
    {
        var array = values.ToArray();
        return string.Create(CultureInfo.InvariantCulture, $"{array.Average():F2} ± {StandardDeviation(array):F2}");
    }

    /// <summary>Sample standard deviation (n − 1); 0 for a single value.</summary>
    internal static double StandardDeviation(double[] values)
    {
        var mean = values.Average();
        return values.Length < 2 ? 0 : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    }
}
