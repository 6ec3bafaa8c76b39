using System.Globalization;
using GradientSurgery.Cli.Plotting;
using GradientSurgery.Experiments.Logging;
using GradientSurgery.Experiments.Synthetic;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary>Runs the synthetic benchmark for the demo and writes its CSV files, TensorBoard events, figures and table.</summary>
internal static class SyntheticOutputs
{
    /// <summary>All runs of one method.</summary>
    public sealed record MethodResult(string Method, string DisplayName, IReadOnlyList<IReadOnlyList<SyntheticRecord>> Runs)
    {
        public double[] FinalTestMean(int task) => [Runs.Select(r => r[^1].TestLoss[task]).Average(), StandardDeviation(Runs.Select(r => r[^1].TestLoss[task]))];

        public double MeanOverTraining(Func<SyntheticRecord, double> metric) =>
            Runs.SelectMany(r => r.Select(metric)).Where(v => !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Average();
    }

    public static IReadOnlyList<MethodResult> Run(IAnsiConsole console, DemoOptions options, string directory)
    {
        Directory.CreateDirectory(directory);
        var config = options.Synthetic;
        var tasks = Enumerable.Range(0, config.Tasks).ToArray();
        string[] columns =
        [
            .. tasks.Select(t => $"train_loss/task{t}"), .. tasks.Select(t => $"test_loss/task{t}"),
            "conflicts/fraction_conflicting", "conflicts/mean_cosine", "conflicts/magnitude_similarity", "conflicts/curvature",
        ];
        var results = new List<MethodResult>();
        using (var log = new MetricsLog(Path.Combine(directory, "metrics.csv"), ["method", "seed"], columns, Path.Combine(directory, "tensorboard")))
        {
            console.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(context =>
                {
                    var bars = options.Methods.SelectMany(m => options.RunSeeds.Select(s => (Method: m, Seed: s,
                        Bar: context.AddTask($"{Markup.Escape(m)}, seed {s}", maxValue: config.Steps)))).ToArray();
                    foreach (var method in options.Methods)
                    {
                        var runs = new List<IReadOnlyList<SyntheticRecord>>();
                        foreach (var (_, seed, bar) in bars.Where(b => b.Method == method))
                        {
                            var records = SyntheticBenchmark.Run(config, method, seed, done => bar.Value = done);
                            foreach (var record in records)
                            {
                                log.Write([method, seed.ToString(CultureInfo.InvariantCulture)], record.Step,
                                [
                                    .. record.TrainLoss, .. record.TestLoss,
                                    record.ConflictFraction, record.MeanCosine, record.MagnitudeSimilarity, record.Curvature,
                                ]);
                            }
                            runs.Add(records);
                        }
                        results.Add(new MethodResult(method, MethodCatalog.Resolve(method).DisplayName, runs));
                    }
                });
        }
        WriteSummary(Path.Combine(directory, "summary.csv"), config, results);
        SaveFigures(directory, config, results);
        console.Write(Table(config, results));
        return results;
    }

    public static Table Table(SyntheticConfig config, IReadOnlyList<MethodResult> results)
    {
        var scales = config.Scales;
        var table = new Table().Title($"Final test MSE per task (mean ± std over seeds) after {config.Steps:N0} steps; σ = task scale")
            .AddColumn("method");
        for (var t = 0; t < config.Tasks; t++)
        {
            table.AddColumn($"task {t} (σ={scales[t]:G3})");
        }
        table.AddColumns("conflicting pairs", "mean cos", "Φ", "ξ");
        foreach (var result in results)
        {
            var cells = new List<string> { Markup.Escape(result.DisplayName) };
            cells.AddRange(Enumerable.Range(0, config.Tasks).Select(t => result.FinalTestMean(t)).Select(m => $"{m[0]:G4} ± {m[1]:G2}"));
            cells.Add(Statistic(result.MeanOverTraining(r => r.ConflictFraction), "P0"));
            cells.Add(Statistic(result.MeanOverTraining(r => r.MeanCosine), "F3"));
            cells.Add(Statistic(result.MeanOverTraining(r => r.MagnitudeSimilarity), "F3"));
            cells.Add(Statistic(result.MeanOverTraining(r => r.Curvature), "F3"));
            table.AddRow([.. cells]);
        }
        return table;
    }

    /// <summary>A conflict statistic for tables; "n/a" when not measured (loss weightings form no per-task gradients).</summary>
    public static string Statistic(double value, string format) => double.IsNaN(value) ? "n/a" : value.ToString(format, CultureInfo.InvariantCulture);

    private static void WriteSummary(string path, SyntheticConfig config, IReadOnlyList<MethodResult> results)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine("method,task,scale,final_test_mse_mean,final_test_mse_std,seeds");
        foreach (var result in results)
        {
            for (var t = 0; t < config.Tasks; t++)
            {
                var m = result.FinalTestMean(t);
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.Method},{t},{config.Scales[t]:R},{m[0]:R},{m[1]:R},{result.Runs.Count}"));
            }
        }
    }

    private static void SaveFigures(string directory, SyntheticConfig config, IReadOnlyList<MethodResult> results)
    {
        LineChart.Series Mean(MethodResult result, Func<SyntheticRecord, double> metric)
        {
            var steps = result.Runs[0].Select(r => (double)r.Step).ToArray();
            var values = Enumerable.Range(0, steps.Length).Select(i => result.Runs.Select(run => metric(run[i])).ToArray()).ToArray();
            return new LineChart.Series(result.DisplayName, steps,
                [.. values.Select(v => v.Where(x => !double.IsNaN(x)).DefaultIfEmpty(double.NaN).Average())],
                [.. values.Select(v => StandardDeviation(v.Where(x => !double.IsNaN(x))))]);
        }
        var losses = Enumerable.Range(0, config.Tasks).Select(t => new LineChart.Panel(
            $"test loss, task {t} (σ = {config.Scales[t]:G3}), mean over seeds", "test MSE", [.. results.Select(r => Mean(r, rec => rec.TestLoss[t]))], LogScale: true)).ToArray();
        LineChart.Save(Path.Combine(directory, "loss_curves.png"), losses, "step");
        // Methods that measured nothing (loss weightings) have no line rather than an empty one.
        LineChart.Panel Conflict(string title, string label, Func<SyntheticRecord, double> metric) =>
            new(title, label, [.. results.Where(r => r.MeanOverTraining(metric) is var mean && !double.IsNaN(mean)).Select(r => Mean(r, metric))]);
        LineChart.Save(Path.Combine(directory, "conflicts.png"),
        [
            Conflict("fraction of task pairs in conflict (cos < 0)", "fraction", r => r.ConflictFraction),
            Conflict("mean pairwise cosine", "cos φ", r => r.MeanCosine),
            Conflict("gradient magnitude similarity Φ", "Φ", r => r.MagnitudeSimilarity),
            Conflict("curvature bounding measure ξ", "ξ", r => r.Curvature),
        ], "step");
    }

    private static double StandardDeviation(IEnumerable<double> values)
    {
        var array = values.ToArray();
        if (array.Length < 2)
        {
            return 0;
        }
        var mean = array.Average();
        return Math.Sqrt(array.Sum(v => (v - mean) * (v - mean)) / (array.Length - 1));
    }
}
