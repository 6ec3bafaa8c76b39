using System.Globalization;
using System.Text;
using GradientSurgery.Cli.Plotting;
using GradientSurgery.Environments;
using GradientSurgery.Experiments.Reinforcement;
using GradientSurgery.Experiments.Supervised;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary>
/// The part of <c>gsurg summarize</c> for runs of <c>gsurg rl train</c>, grouped by suite and method: final mean
/// success and return and the best mean success of the run (each mean ± std over seeds), time per 1000 vector steps,
/// final success per task, and mean success per vector step for the plot. Read from each run's checksummed checkpoint
/// rather than from metrics.csv, which nothing guards.
/// </summary>
internal static class RlSummary
{
    public static SummarySection Create(IEnumerable<string> directories)
    {
        var groups = directories.Select(Read).GroupBy(r => (r.Suite, r.Method))
            .OrderBy(g => g.Key.Suite, StringComparer.Ordinal).ThenBy(g => g.Key.Method, StringComparer.Ordinal).ToArray();
        var table = new Table { Title = new TableTitle("reinforcement-learning runs") }
            .AddColumns("suite", "method", "seeds", "steps", "success %", "return", "best success %", "s / 1000 steps");
        var text = new StringBuilder(
            "| suite | method | seeds | steps | final mean success (%) | final mean return | best mean success (%) | time per 1000 steps (s) |\n" +
            "|---|---|---:|---:|---:|---:|---:|---:|\n");
        foreach (var group in groups)
        {
            string[] cells =
            [
                group.Key.Suite, group.Key.Method, group.Count().ToString(CultureInfo.InvariantCulture),
                string.Join("/", group.Select(r => r.Final.Step).Distinct()),
                SummarizeCommand.Stats(group.Select(r => 100 * r.Value(r.Final, "mean_success"))),
                SummarizeCommand.Stats(group.Select(r => r.Value(r.Final, "mean_return"))),
                SummarizeCommand.Stats(group.Select(r => 100 * r.History.Max(h => r.Value(h, "mean_success")))),
                // "seconds" is the run's cumulative training time (evaluations included, resumes summed).
                SummarizeCommand.Stats(group.Select(r => 1000 * r.Value(r.Final, "seconds") / r.Final.Step)),
            ];
            SummarizeCommand.AddRow(table, text, cells);
        }
        text.Append("\nFinal success per task (%), mean over seeds:\n\n").Append(PerTask(groups));
        return new SummarySection(table, text.ToString(), [.. groups.GroupBy(g => g.Key.Suite).Select(SuccessPanel)]);
    }

    /// <summary>A Markdown table with a row per suite and task and a column per method ("–" where a method has no run on that suite).</summary>
    private static string PerTask(IReadOnlyList<IGrouping<(string Suite, string Method), Run>> groups)
    {
        var methods = groups.Select(g => g.Key.Method).Distinct().Order(StringComparer.Ordinal).ToArray();
        var text = new StringBuilder($"| suite | task | {string.Join(" | ", methods)} |\n|---|---|{string.Concat(methods.Select(_ => "---:|"))}\n");
        foreach (var suite in groups.GroupBy(g => g.Key.Suite))
        {
            foreach (var task in suite.First().First().TaskNames)
            {
                var cells = methods.Select(method => suite.FirstOrDefault(g => g.Key.Method == method) is { } group
                    ? (100 * group.Average(r => r.Value(r.Final, $"success/{task}"))).ToString("F2", CultureInfo.InvariantCulture)
                    : "–");
                text.Append(CultureInfo.InvariantCulture, $"| {suite.Key} | {task} | {string.Join(" | ", cells)} |\n");
            }
        }
        return text.ToString();
    }

    /// <summary>Mean success (%) per vector step of one suite's methods: a line per method, mean over seeds, band = ± std.</summary>
    private static LineChart.Panel SuccessPanel(IGrouping<string, IGrouping<(string Suite, string Method), Run>> suite) => new(
        $"{suite.Key}: mean success", "success (%)",
        [.. suite.Select(group =>
        {
            // The evaluations that every seed has logged: seeds may have stopped, or evaluated, at different steps.
            var steps = group.Select(r => r.History.Select(h => h.Step)).Aggregate((a, b) => a.Intersect(b)).Order().ToArray();
            var perStep = steps.Select(step => group.Select(r => 100 * r.Value(r.History.First(h => h.Step == step), "mean_success")).ToArray()).ToArray();
            return new LineChart.Series(
                $"{group.Key.Method} ({SummarizeCommand.Seeds(group.Count())})",
                [.. steps.Select(s => (double)s)],
                [.. perStep.Select(v => v.Average())],
                [.. perStep.Select(SummarizeCommand.StandardDeviation)]);
        }).Where(series => series.X.Length > 0)],
        XLabel: "vector step");

    /// <summary>One run's suite and method, its suite's tasks and logged columns, and its history (at least one evaluation).</summary>
    private sealed record Run(string Suite, string Method, IReadOnlyList<string> TaskNames, string[] Columns, IReadOnlyList<RlRecord> History)
    {
        public RlRecord Final => History[^1];

        public double Value(RlRecord record, string column) => record.Value(Columns, column);
    }

    /// <summary>
    /// Whether <paramref name="directory"/> holds a run of <c>gsurg rl train</c>: its checkpoint, or only its
    /// metrics.csv (checkpoints of long runs are large and often deleted once a run is done).
    /// </summary>
    public static bool IsRun(string directory)
    {
        if (CheckpointFile.Exists(Path.Combine(directory, RlTrainer.CheckpointName)))
        {
            return true;
        }
        var metrics = Path.Combine(directory, "metrics.csv");
        return File.Exists(metrics) && File.ReadLines(metrics).FirstOrDefault() is { } header && header.StartsWith(MetricsPrefix, StringComparison.Ordinal);
    }

    // The first columns of an RL run's metrics.csv (RlTrainer's keys, step, then its first columns).
    private const string MetricsPrefix = "method,seed,step,transitions,seconds,mean_success,";

    private static Run Read(string directory)
    {
        var (suite, method, history) = CheckpointFile.Exists(Path.Combine(directory, RlTrainer.CheckpointName))
            ? FromCheckpoint(directory)
            : FromMetrics(Path.Combine(directory, "metrics.csv"));
        var taskNames = Suite.Find(suite).TaskNames;
        string[] columns = [.. RlTrainer.Columns(taskNames)];
        if (history.Count == 0)
        {
            throw new InvalidDataException($"{directory} has no evaluation yet.");
        }
        // A run of another version of the trainer would otherwise be read through the wrong columns.
        if (history.Any(r => r.Values.Length != columns.Length))
        {
            throw new InvalidDataException($"{directory}: the run's history has {history[0].Values.Length} values per evaluation, but a {suite} run logs {columns.Length}.");
        }
        return new Run(suite, method, taskNames, columns, history);
    }

    // The checksummed history: preferred when the checkpoint is there.
    private static (string Suite, string Method, IReadOnlyList<RlRecord> History) FromCheckpoint(string directory)
    {
        var (settings, history) = RlTrainer.ReadHistory(directory);
        return (settings.Suite, settings.Method, history);
    }

    // metrics.csv: method, seed, step, then RlTrainer.Columns of the suite whose task columns it has (empty = NaN).
    private static (string Suite, string Method, IReadOnlyList<RlRecord> History) FromMetrics(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        var suite = Suite.Names.FirstOrDefault(name => RlTrainer.Columns(Suite.Find(name).TaskNames).SequenceEqual(header.Skip(3)))
            ?? throw new InvalidDataException($"{path}: its columns are not those of any suite's run ({string.Join(", ", Suite.Names)}).");
        var rows = lines.Skip(1).Where(l => l.Length > 0).Select((line, k) =>
        {
            var fields = line.Split(',');
            if (fields.Length != header.Length)
            {
                throw new InvalidDataException($"{path}, line {k + 2}: {fields.Length} fields, the header has {header.Length}.");
            }
            double Number(string field) => field.Length == 0
                ? double.NaN
                : double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : throw new InvalidDataException($"{path}, line {k + 2}: '{field}' is not a number.");
            return (Method: fields[0], Record: new RlRecord((int)Number(fields[2]), [.. fields.Skip(3).Select(Number)]));
        }).ToArray();
        return (suite, rows.Length > 0 ? rows[0].Method : "", rows.Select(r => r.Record).ToArray());
    }
}
