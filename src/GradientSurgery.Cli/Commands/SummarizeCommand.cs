using System.CommandLine;
using System.Globalization;
using System.Text;
using GradientSurgery.Cli.Plotting;
using GradientSurgery.Experiments.Supervised;
using GradientSurgery.Models;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary><c>gsurg summarize RUN...</c>: final test accuracy per task, mean ± std over seeds, for each benchmark and method.</summary>
internal static class SummarizeCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var runs = new Argument<string[]>("runs") { Description = "Run directories written by 'gsurg train'.", Arity = ArgumentArity.OneOrMore };
        var markdown = new Option<string?>("--markdown") { Description = "Also write the table as Markdown to this file." };
        var plot = new Option<string?>("--plot") { Description = "Also draw test accuracy per epoch to this PNG: one panel per benchmark and task, one line per method (mean over seeds, band = ± std)." };
        var command = new Command("summarize", "Summarise finished training runs: final-epoch test accuracy per task (mean ± std over seeds) and time per epoch, grouped by benchmark and method.")
        {
            runs, markdown, plot,
        };
        command.SetAction(parse =>
        {
            var rows = parse.GetValue(runs)!.Select(Read).GroupBy(r => (r.Settings.Benchmark, r.Settings.Method)).OrderBy(g => g.Key.Benchmark).ThenBy(g => g.Key.Method).ToArray();
            var table = new Table().AddColumns("benchmark", "method", "seeds", "epochs", "left acc %", "right acc %", "s / epoch");
            var text = new StringBuilder("| benchmark | method | seeds | epochs | left accuracy (%) | right accuracy (%) | time per epoch (s) |\n|---|---|---:|---:|---:|---:|---:|\n");
            foreach (var group in rows)
            {
                var left = Stats(group.Select(r => 100 * r.Final[1]));
                var right = Stats(group.Select(r => 100 * r.Final[2]));
                var seconds = Stats(group.Select(r => r.SecondsPerEpoch));
                var epochs = string.Join("/", group.Select(r => (int)r.Final[0]).Distinct());
                table.AddRow(group.Key.Benchmark, group.Key.Method, group.Count().ToString(CultureInfo.InvariantCulture), epochs, left, right, seconds);
                text.Append(CultureInfo.InvariantCulture, $"| {group.Key.Benchmark} | {group.Key.Method} | {group.Count()} | {epochs} | {left} | {right} | {seconds} |\n");
            }
            console.Write(table);
            if (parse.GetValue(markdown) is { } path)
            {
                AtomicFile.WriteAllText(path, text.ToString());
            }
            if (parse.GetValue(plot) is { } png)
            {
                LineChart.Save(png, [.. rows.GroupBy(g => g.Key.Benchmark).SelectMany(AccuracyPanels)], "epoch", legend: ScottPlot.Alignment.LowerRight);
                console.MarkupLineInterpolated($"Wrote {png}.");
            }
            return GsurgApp.Success;
        });
        return command;
    }

    /// <summary>Test accuracy (%) per epoch of one benchmark's methods: a left and a right panel, a line per method.</summary>
    private static IEnumerable<LineChart.Panel> AccuracyPanels(IEnumerable<IGrouping<(string Benchmark, string Method), RunSummary>> methods)
    {
        var groups = methods.ToArray();
        return new[] { "left", "right" }.Select((side, task) => new LineChart.Panel(
            $"{groups[0].Key.Benchmark}: {side} task", "test accuracy (%)",
            [.. groups.Select(group =>
            {
                // Epochs that every seed has reached.
                var epochs = group.Min(r => r.TestAccuracy[task].Length);
                var perEpoch = Enumerable.Range(0, epochs).Select(e => group.Select(r => 100 * r.TestAccuracy[task][e]).ToArray()).ToArray();
                return new LineChart.Series(
                    $"{group.Key.Method} ({group.Count()} seeds)",
                    [.. Enumerable.Range(1, epochs).Select(e => (double)e)],
                    [.. perEpoch.Select(v => v.Average())],
                    [.. perEpoch.Select(StandardDeviation)]);
            })]));
    }

    private sealed record RunSummary(TrainingSettings Settings, double[] Final, double SecondsPerEpoch, double[][] TestAccuracy);

    /// <summary>The last row of metrics.csv (epoch, left and right test accuracy) and both test accuracies per epoch.</summary>
    private static RunSummary Read(string directory)
    {
        var settings = MultiTaskTrainer<MultiLeNet>.ReadSettings(directory);
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
        return new RunSummary(settings,
            [Value(last, "epoch"), Value(last, "test_accuracy/task0"), Value(last, "test_accuracy/task1")],
            rows.Average(r => Value(r, "time/epoch_seconds")),
            [[.. rows.Select(r => Value(r, "test_accuracy/task0"))], [.. rows.Select(r => Value(r, "test_accuracy/task1"))]]);
    }

    private static string Stats(IEnumerable<double> values)
    {
        var array = values.ToArray();
        return string.Create(CultureInfo.InvariantCulture, $"{array.Average():F2} ± {StandardDeviation(array):F2}");
    }

    /// <summary>Sample standard deviation (n − 1); 0 for a single value.</summary>
    private static double StandardDeviation(double[] values)
    {
        var mean = values.Average();
        return values.Length < 2 ? 0 : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    }
}
