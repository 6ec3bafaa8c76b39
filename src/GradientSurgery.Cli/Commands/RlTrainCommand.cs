using System.CommandLine;
using System.Globalization;
using System.Text;
using GradientSurgery.Cli.Plotting;
using GradientSurgery.Environments;
using GradientSurgery.Environments.MuJoCo;
using GradientSurgery.Experiments;
using GradientSurgery.Experiments.Reinforcement;
using GradientSurgery.Rl;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary><c>gsurg rl train</c> and <c>gsurg rl eval</c>: multi-task SAC with any method, and the evaluation of a trained run.</summary>
internal static class RlTrainCommand
{
    public static Command Train(IAnsiConsole console)
    {
        var suite = Suite();
        var method = new Option<string>("--method")
        {
            Description = $"The agent: {string.Join(", ", SacMethod.Variants)} (MT-SAC with a one-hot task id, multi-head SAC, one SAC per task), or a method of the catalog applied to MT-SAC's actor and critic task losses ({string.Join(", ", MethodCatalog.All.Where(m => !m.NeedsNonNegativeLosses).Select(m => m.Name))}; not those defined only for non-negative losses, as the actor's loss takes either sign); pcgrad is the paper's SAC + PCGrad.",
            DefaultValueFactory = _ => "pcgrad",
        };
        var steps = CommonOptions.PositiveInt("--steps", $"Vector steps (each steps every task once and makes one update); default: {Defaults(s => s.Steps)}.");
        var seed = CommonOptions.Seed();
        var output = CommonOptions.Out("runs/rl-<suite>-<method>-seed<seed>");
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last checkpoint, bit for bit (same settings; --steps may grow)." };
        var evaluateEvery = CommonOptions.PositiveInt("--eval-every", $"Vector steps between deterministic evaluations and checkpoints; default: {Defaults(s => s.EvaluateEvery)}.");
        var episodes = CommonOptions.PositiveInt("--eval-episodes", $"Fresh episodes per task in each evaluation; default: {Defaults(s => s.EvaluationEpisodes)}.");
        var warmup = CommonOptions.PositiveInt("--warmup", $"Vector steps of random actions before the first update; default: {Defaults(s => s.WarmupSteps)}.");
        var hidden = new Option<string?>("--hidden") { Description = $"Hidden layers of the actor and critics, e.g. 400,400,400 (Meta-World's); default: {Defaults(s => string.Join(',', s.Sac.Hidden))}." };
        var batch = CommonOptions.PositiveInt("--batch-per-task", $"Transitions per task in each update; default: {Defaults(s => s.Sac.BatchPerTask)}.");
        var buffer = CommonOptions.PositiveInt("--buffer", $"Replay capacity per task; default: {Defaults(s => s.BufferPerTask)}.");
        var taskGradients = new Option<string>("--task-gradients")
        {
            Description = "How an aggregator gets the T task gradients: one-pass (one backward pass of the batch, segmented by task) or task-passes (one backward pass per task, as the paper's code; slower, for comparison).",
            DefaultValueFactory = _ => "one-pass",
        }.AcceptOnlyFromAmong("one-pass", "task-passes");
        var threads = CommonOptions.PositiveInt("--threads", "Threads for tensor operations and environments (default: all cores); 1 when two runs share two cores.");
        var command = new Command("train",
            "Train multi-task SAC on a suite: a progress bar with steps/s and the current mean success; per evaluation, success and return per task, temperatures, mean Q, losses and the conflicts of the actor's and critic's task gradients to metrics.csv and TensorBoard; success.png; an atomic, checksummed checkpoint (networks, optimizers, temperatures, replay buffer, environments, random states) after every evaluation. Ctrl+C or SIGTERM stops after the current step; --resume continues from the last checkpoint.")
        {
            suite, method, steps, seed, output, resume, evaluateEvery, episodes, warmup, hidden, batch, buffer, taskGradients, threads,
        };
        command.SetAction((parse, cancellation) =>
        {
            var runSeed = parse.GetValue(seed);
            var suiteName = parse.GetValue(suite)!.Trim().ToLowerInvariant();
            var methodName = parse.GetValue(method)!;
            RlSettings settings;
            try
            {
                methodName = SacMethod.Parse(methodName, runSeed).Name;
                var defaults = RlSettings.Defaults(suiteName, methodName, runSeed);
                settings = defaults with
                {
                    Steps = parse.GetValue(steps) ?? defaults.Steps,
                    EvaluateEvery = parse.GetValue(evaluateEvery) ?? defaults.EvaluateEvery,
                    EvaluationEpisodes = parse.GetValue(episodes) ?? defaults.EvaluationEpisodes,
                    WarmupSteps = Math.Min(parse.GetValue(warmup) ?? defaults.WarmupSteps, parse.GetValue(steps) ?? defaults.Steps),
                    BufferPerTask = parse.GetValue(buffer) ?? defaults.BufferPerTask,
                    Threads = parse.GetValue(threads),
                    Sac = defaults.Sac with
                    {
                        Hidden = Hidden(parse.GetValue(hidden)) ?? defaults.Sac.Hidden,
                        BatchPerTask = parse.GetValue(batch) ?? defaults.Sac.BatchPerTask,
                        TaskGradients = parse.GetValue(taskGradients) == "task-passes" ? TaskGradients.TaskPasses : TaskGradients.OnePass,
                    },
                };
                settings.Validate();
                Environments.Suite.Find(suiteName).Create(0).Dispose();
            }
            catch (Exception unusable) when (unusable is ArgumentException or MuJoCoUnavailableException)
            {
                throw new UsageException(unusable.Message.Split('\n')[0], unusable);
            }
            var directory = CommonOptions.OutputDirectory(parse.GetValue(output) ?? Path.Combine("runs", $"rl-{suiteName}-{methodName.Replace(':', '_')}-seed{runSeed}"), "rl");
            console.MarkupLineInterpolated($"Training [bold]{settings.Method}[/] on [bold]{settings.Suite}[/] ({settings.Steps:N0} steps, hidden {string.Join("-", settings.Sac.Hidden)}, batch {settings.Sac.BatchPerTask}/task, seed {settings.Seed}) → {directory}");
            IReadOnlyList<RlRecord> history = [];
            console.Progress().AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context => history = RlTrainer.Train(settings, directory, parse.GetValue(resume), new Progress(console, context), cancellation));
            if (history.Count == 0 || history[^1].Step < settings.Steps)
            {
                console.MarkupLineInterpolated(history.Count == 0
                    ? (FormattableString)$"[yellow]Stopped[/] before the first checkpoint (step {settings.EvaluateEvery:N0}); nothing to resume."
                    : $"[yellow]Stopped[/]; the last checkpoint is at step {history[^1].Step:N0}: the same arguments with --resume continue from there.");
                return Task.FromResult(GsurgApp.Success);
            }
            var taskNames = Environments.Suite.Find(settings.Suite).TaskNames;
            SuccessFigure(Path.Combine(directory, "success.png"), settings, taskNames, history);
            var last = history[^1];
            console.MarkupLineInterpolated($"[green]Done[/]: mean success {Percent(last.Value(RlTrainer.Columns(taskNames), "mean_success"))} after {last.Step:N0} steps; run in {directory} (metrics.csv, tensorboard/, success.png, checkpoint.bin).");
            return Task.FromResult(GsurgApp.Success);
        });
        return command;
    }

    public static Command Evaluate(IAnsiConsole console)
    {
        var run = new Option<string>("--run") { Description = "A run directory of 'gsurg rl train'.", Required = true };
        var episodes = CommonOptions.PositiveInt("--episodes", "Fresh episodes per task (default 20).");
        var seed = new Option<long>("--seed") { Description = "Seed of the evaluation episodes.", DefaultValueFactory = _ => 12345 };
        var command = new Command("eval", "Evaluate the agent of a run's last checkpoint with the mean action on fresh episodes: success rate and return per task; writes eval.csv into the run.")
        {
            run, episodes, seed,
        };
        command.SetAction(parse =>
        {
            var directory = Path.GetFullPath(parse.GetValue(run)!);
            if (!Directory.Exists(directory))
            {
                throw new UsageException($"no run directory at {directory}");
            }
            var count = parse.GetValue(episodes) ?? 20;
            var (settings, agent) = RlTrainer.LoadAgent(directory);
            using (agent)
            {
                var suite = Environments.Suite.Find(settings.Suite);
                RlEvaluation.Result result = null!;
                console.Status().Start($"Evaluating {settings.Method} on {settings.Suite}: {count} episodes per task…", _ =>
                    result = RlEvaluation.Run(agent, suite, count, unchecked((ulong)parse.GetValue(seed))));
                var table = new Table().AddColumns("task", "success %", "mean return");
                var csv = new StringBuilder("task,success_rate,mean_return\n");
                for (var t = 0; t < suite.TaskNames.Count; t++)
                {
                    table.AddRow(Markup.Escape(suite.TaskNames[t]), Percent(result.Success[t]), result.Return[t].ToString("F2", CultureInfo.InvariantCulture));
                    csv.Append(CultureInfo.InvariantCulture, $"{suite.TaskNames[t]},{result.Success[t]:R},{result.Return[t]:R}\n");
                }
                table.AddRow("[bold]mean[/]", Percent(result.Success.Average()), result.Return.Average().ToString("F2", CultureInfo.InvariantCulture));
                console.Write(table);
                AtomicFile.WriteAllText(Path.Combine(directory, "eval.csv"), csv.ToString());
            }
            return GsurgApp.Success;
        });
        return command;
    }

    internal static Option<string> Suite() => new("--suite")
    {
        Description = "The suite: pointmass (4 goals on a circle) or mt10 (MuJoCo 2.2.2: ten manipulation tasks in the spirit of Meta-World MT10).",
        DefaultValueFactory = _ => "pointmass",
    };

    /// <summary>Mean success over the evaluations (and each task's), one line per task, in a PNG beside the metrics.</summary>
    internal static void SuccessFigure(string path, RlSettings settings, IReadOnlyList<string> taskNames, IReadOnlyList<RlRecord> history)
    {
        double[] x = [.. history.Select(r => (double)r.Step)];
        var columns = RlTrainer.Columns(taskNames);
        var perTask = taskNames.Select(task => new LineChart.Series(task, x, [.. history.Select(r => 100 * r.Value(columns, $"success/{task}"))])).ToArray();
        LineChart.Save(path,
        [
            new LineChart.Panel($"{settings.Suite}, {settings.Method}, seed {settings.Seed}: mean success", "success (%)", [new LineChart.Series("mean", x, [.. history.Select(r => 100 * r.Value(columns, "mean_success"))])]),
            new LineChart.Panel("success per task", "success (%)", perTask),
        ], "vector step", legend: ScottPlot.Alignment.LowerRight);
    }

    private static int[]? Hidden(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var widths = new int[parts.Length];
        for (var k = 0; k < parts.Length; k++)
        {
            if (!int.TryParse(parts[k], NumberStyles.None, CultureInfo.InvariantCulture, out widths[k]) || widths[k] < 1)
            {
                throw new ArgumentException($"--hidden takes comma-separated positive widths (e.g. 400,400,400); '{parts[k]}' is not one.");
            }
        }
        return widths.Length == 0 ? throw new ArgumentException("--hidden needs at least one width.") : widths;
    }

    private static string Percent(double fraction) => double.IsNaN(fraction) ? "–" : (100 * fraction).ToString("F0", CultureInfo.InvariantCulture);

    /// <summary>The bar: steps done, steps/s, and the latest mean success in its description.</summary>
    private sealed class Progress(IAnsiConsole console, ProgressContext context) : IRlObserver
    {
        private ProgressTask? _bar;
        private int _start;
        private DateTime _started;

        public void Started(int step, int total)
        {
            (_start, _started) = (step, DateTime.UtcNow);
            if (step > 0)
            {
                console.MarkupLineInterpolated($"Resuming at step {step:N0}.");
            }
            _bar = context.AddTask("training", maxValue: total);
            _bar.Value = step;
        }

        public void Stepped(int step)
        {
            _bar!.Value = step;
            if (step % 100 == 0)
            {
                var rate = (step - _start) / Math.Max((DateTime.UtcNow - _started).TotalSeconds, 1e-9);
                _bar.Description = Description(rate);
            }
        }

        public void Evaluated(RlRecord record, IReadOnlyList<string> columns)
        {
            double Value(string column) => record.Value(columns, column);
            _success = Value("mean_success");
            console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"step {record.Step:N0}: mean success {Percent(_success)} %, return {Value("mean_return"):F1}, critic loss {Value("critic_loss"):F3}, actor loss {Value("actor_loss"):F3}, {Value("seconds"):F0} s"));
        }

        private double _success = double.NaN;

        private string Description(double rate) => string.Create(CultureInfo.InvariantCulture, $"{rate:F0} steps/s, success {Percent(_success)} %");
    }

    // A default of every suite for the help text, e.g. "pointmass 8000, mt10 40000".
    private static string Defaults<T>(Func<RlSettings, T> value) =>
        string.Join(", ", new[] { "pointmass", "mt10" }.Select(suite => string.Create(CultureInfo.InvariantCulture, $"{suite} {value(RlSettings.Defaults(suite, "mtsac", 0))}")));
}
