using System.Diagnostics;
using System.Globalization;
using System.Text;
using GradientSurgery.Environments;
using GradientSurgery.Environments.MuJoCo;
using GradientSurgery.Rl;
using static TorchSharp.torch;

namespace GradientSurgery.Benchmarks;

/// <summary>
/// The multi-task SAC benchmark: (a) the time of one <see cref="MultiTaskSac.Update"/> for <c>mtsac</c>, <c>pcgrad</c>
/// with its task gradients from one backward pass and <c>pcgrad</c> with one pass per task, on random batches with
/// Meta-World's MT-SAC networks, the variants interleaved round robin so that the machine's noise hits them alike, and the
/// ratios to <c>mtsac</c> taken within each repeat; (b) if MuJoCo is installed, a whole training step on MT10 (act, step
/// the ten environments, store, update), split into its parts.
/// </summary>
internal static class RlBenchmark
{
    /// <summary>The issue's targets for pcgrad (one pass) / mtsac, by T.</summary>
    public static readonly IReadOnlyDictionary<int, double> Targets = new Dictionary<int, double> { [10] = 1.5, [50] = 2.0 };

    private const int ObservationSize = 39;
    private const int ActionSize = 4;
    private const long Seed = 1;

    // The distinct random batches cycled through: the update's cost does not depend on the numbers, and a few keep the
    // data generation (T·B·85 floats) out of the timed loop and memory small.
    private const int Batches = 3;

    private sealed record Variant(string Label, string Method, TaskGradients Gradients);

    private static readonly Variant[] UpdateVariants =
    [
        new("mtsac", "mtsac", TaskGradients.OnePass),
        new("pcgrad one-pass", "pcgrad", TaskGradients.OnePass),
        new("pcgrad T-pass", "pcgrad", TaskGradients.TaskPasses),
    ];

    /// <summary>Per variant and repeat: the update, and inside it the critic's and the actor's task-gradient and aggregation times (ms).</summary>
    private sealed record UpdateTimes(double Total, double CriticGradients, double CriticSurgery, double ActorGradients, double ActorSurgery);

    private sealed record UpdateRow(int Tasks, int Updates, Dictionary<string, List<UpdateTimes>> Times, List<double> OnePassRatios, List<double> TaskPassRatios, double ResidentBefore, double ResidentAfter);

    private sealed record StepRow(string Label, int[] Hidden, List<double> Act, List<double> Environment, List<double> Update, List<double> Total);

    /// <summary>Runs the benchmark.</summary>
    /// <param name="taskCounts">The T of the update measurement.</param>
    /// <param name="updates">Timed rounds per T (each round one update of every variant).</param>
    /// <param name="warmup">Untimed rounds before them (and before the MT10 steps).</param>
    /// <param name="taskPassUpdates">
    /// Rounds in which the T-pass variant runs (the first ones, and then not in the warm-up): at T = 50 one of its updates
    /// costs about as much as twenty of the others, so a run with all of them would take an hour.
    /// </param>
    /// <param name="steps">Timed MT10 training steps per variant; 0 skips that part.</param>
    /// <param name="outputDirectory">Receives rl.md and rl-update.csv.</param>
    public static void Run(IReadOnlyList<int> taskCounts, int updates, int warmup, int taskPassUpdates, int steps, string outputDirectory)
    {
        Directory.CreateDirectory(outputDirectory);
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"torch threads {get_num_threads()}; networks {string.Join("-", SacSettings.MetaWorld.Hidden)} (actor and each twin critic), batch {SacSettings.MetaWorld.BatchPerTask} per task, observation {ObservationSize}, action {ActionSize}, float32.");
        text.AppendLine();
        var rows = taskCounts.Select(t => MeasureUpdates(t, updates, warmup, Math.Min(taskPassUpdates, updates))).ToList();
        UpdateReport(text, rows, warmup, Math.Min(taskPassUpdates, updates), updates);
        var csv = new StringBuilder("tasks,variant,median_ms,min_ms,max_ms,critic_gradients_ms,critic_surgery_ms,actor_gradients_ms,actor_surgery_ms,ratio_to_mtsac_median,ratio_min,ratio_max\n");
        foreach (var row in rows)
        {
            foreach (var (label, times) in row.Times)
            {
                var ratios = label switch { "pcgrad one-pass" => row.OnePassRatios, "pcgrad T-pass" => row.TaskPassRatios, _ => null };
                csv.AppendLine(c, $"{row.Tasks},{label},{Median(times, u => u.Total):F2},{times.Min(u => u.Total):F2},{times.Max(u => u.Total):F2},{Median(times, u => u.CriticGradients):F2},{Median(times, u => u.CriticSurgery):F2},{Median(times, u => u.ActorGradients):F2},{Median(times, u => u.ActorSurgery):F2},{(ratios is null ? "" : StepBenchmark.Median(ratios).ToString("F3", c))},{ratios?.Min().ToString("F3", c)},{ratios?.Max().ToString("F3", c)}");
            }
        }
        WriteAtomically(Path.Combine(outputDirectory, "rl-update.csv"), csv.ToString());

        var stepRows = steps > 0 ? MeasureTrainingSteps(steps, warmup) : null;
        if (steps == 0)
        {
            text.AppendLine("MT10 training step: not measured (--steps 0).");
        }
        else if (stepRows is null)
        {
            text.AppendLine("MT10 training step: skipped, MuJoCo is not installed (the update times above need no simulator).");
        }
        else
        {
            StepReport(text, stepRows, steps, warmup);
        }
        WriteAtomically(Path.Combine(outputDirectory, "rl.md"), text.ToString());
        Console.WriteLine();
        Console.Write(text);
    }

    private static UpdateRow MeasureUpdates(int tasks, int updates, int warmup, int taskPassUpdates)
    {
        var agents = UpdateVariants.Select(v => new MultiTaskSac(v.Method, tasks, ObservationSize, ActionSize, SacSettings.MetaWorld with { TaskGradients = v.Gradients }, Seed)).ToArray();
        try
        {
            var random = new SplitMix64(7);
            var batches = Enumerable.Range(0, Batches).Select(_ => RandomBatch(tasks, SacSettings.MetaWorld.BatchPerTask, random)).ToArray();
            var times = UpdateVariants.ToDictionary(v => v.Label, _ => new List<UpdateTimes>());
            var onePass = new List<double>();
            var taskPasses = new List<double>();
            var before = 0.0;
            for (var round = -warmup; round < updates; round++)
            {
                if (round == 0)
                {
                    // After the warm-up: the optimizers' moments, the gradients and the T-pass Jacobian storage exist by now.
                    ProcessMemory.Settle();
                    before = ProcessMemory.ResidentMiB;
                }
                var batch = batches[(round + warmup) % Batches];
                var measured = new UpdateTimes?[UpdateVariants.Length];
                var withTaskPasses = taskPassUpdates == updates || (round >= 0 && round < taskPassUpdates);
                // Rotate the order each round so that no variant always runs right after the same other one.
                for (var k = 0; k < UpdateVariants.Length; k++)
                {
                    var v = (k + Math.Max(round, 0)) % UpdateVariants.Length;
                    if (UpdateVariants[v].Gradients == TaskGradients.TaskPasses && !withTaskPasses)
                    {
                        continue;
                    }
                    using var scope = NewDisposeScope();
                    var clock = Stopwatch.StartNew();
                    var report = agents[v].Update(batch);
                    var total = clock.Elapsed.TotalMilliseconds;
                    measured[v] = new UpdateTimes(total, report.CriticTimings.Gradients.TotalMilliseconds, report.CriticTimings.Surgery.TotalMilliseconds,
                        report.ActorTimings.Gradients.TotalMilliseconds, report.ActorTimings.Surgery.TotalMilliseconds);
                }
                if (round < 0)
                {
                    continue;
                }
                for (var v = 0; v < UpdateVariants.Length; v++)
                {
                    if (measured[v] is { } m)
                    {
                        times[UpdateVariants[v].Label].Add(m);
                    }
                }
                var mtsac = measured[0]!.Total;
                onePass.Add(measured[1]!.Total / mtsac);
                if (measured[2] is { } passes)
                {
                    taskPasses.Add(passes.Total / mtsac);
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"T={tasks} repeat {round + 1}/{updates}: {string.Join(", ", UpdateVariants.Select((u, i) => $"{u.Label} {measured[i]?.Total:F0} ms"))}"));
            }
            ProcessMemory.Settle();
            return new UpdateRow(tasks, updates, times, onePass, taskPasses, before, ProcessMemory.ResidentMiB);
        }
        finally
        {
            foreach (var agent in agents)
            {
                agent.Dispose();
            }
        }
    }

    /// <summary>
    /// A whole training step on MT10 as <c>rl train</c> runs it after the warm-up (one environment per task): act on the
    /// ten observations, step the vector, store the ten transitions, one update on a batch sampled from the buffer. The
    /// variants take turns step by step, each with its own environments, buffer and agent. Null when MuJoCo is absent.
    /// </summary>
    private static List<StepRow>? MeasureTrainingSteps(int steps, int warmup)
    {
        Suite suite;
        try
        {
            suite = Suite.Find("mt10");
            // The suite creates its environments lazily: make one now so that a missing MuJoCo shows here.
            suite.Create(0).Dispose();
        }
        catch (MuJoCoUnavailableException)
        {
            return null;
        }
        (string Label, string Method, int[] Hidden)[] variants =
        [
            ("mtsac 400-400-400", "mtsac", SacSettings.MetaWorld.Hidden),
            ("pcgrad 400-400-400", "pcgrad", SacSettings.MetaWorld.Hidden),
            ("mtsac 256-256", "mtsac", [256, 256]),
            ("pcgrad 256-256", "pcgrad", [256, 256]),
        ];
        var runs = variants.Select(v => new TrainingRun(suite, v.Method, SacSettings.MetaWorld with { Hidden = v.Hidden })).ToArray();
        try
        {
            var rows = variants.Select(v => new StepRow(v.Label, v.Hidden, [], [], [], [])).ToArray();
            for (var round = -warmup; round < steps; round++)
            {
                for (var k = 0; k < runs.Length; k++)
                {
                    var v = (k + Math.Max(round, 0)) % runs.Length;
                    var (act, environment, update) = runs[v].Step();
                    if (round >= 0)
                    {
                        rows[v].Act.Add(act);
                        rows[v].Environment.Add(environment);
                        rows[v].Update.Add(update);
                        rows[v].Total.Add(act + environment + update);
                    }
                }
            }
            return [.. rows];
        }
        finally
        {
            foreach (var run in runs)
            {
                run.Dispose();
            }
        }
    }

    /// <summary>One agent on its own MT10 vector, with a buffer filled by random actions (the trainer's warm-up) before timing.</summary>
    private sealed class TrainingRun : IDisposable
    {
        // Random-action steps before the agent acts: enough transitions per task for the batch to sample from.
        private const int FillSteps = 200;

        private readonly VectorEnvironment _vector;
        private readonly MultiTaskSac _agent;
        private readonly ReplayBuffer _buffer;
        private readonly SplitMix64 _random = new(Seed);
        private readonly int[] _taskOf;
        private readonly float[] _actions;
        private readonly float[] _previous;
        private readonly int _batchPerTask;

        public TrainingRun(Suite suite, string method, SacSettings settings)
        {
            _vector = suite.CreateVector(1, Seed, maxParallelism: 1);
            var tasks = suite.TaskNames.Count;
            _agent = new MultiTaskSac(method, tasks, _vector.ObservationSize, _vector.ActionSize, settings, Seed);
            _buffer = new ReplayBuffer(tasks, 10_000, _vector.ObservationSize, _vector.ActionSize);
            _batchPerTask = settings.BatchPerTask;
            _taskOf = [.. _vector.Tasks];
            _actions = new float[_vector.Count * _vector.ActionSize];
            _previous = new float[_vector.Count * _vector.ObservationSize];
            _vector.Reset();
            for (var step = 0; step < FillSteps; step++)
            {
                for (var k = 0; k < _actions.Length; k++)
                {
                    _actions[k] = (float)((2 * _random.NextDouble()) - 1);
                }
                Transition();
            }
        }

        /// <summary>One training step: milliseconds spent acting, stepping and storing, and updating.</summary>
        public (double Act, double Environment, double Update) Step()
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            _agent.Act(_vector.Observations, _taskOf, deterministic: false, _actions);
            var act = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            Transition();
            var environment = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            _agent.Update(_buffer.Sample(_batchPerTask, _random));
            return (act, environment, clock.Elapsed.TotalMilliseconds);
        }

        /// <summary>Steps the vector with <see cref="_actions"/> and stores the transitions, as RlTrainer does.</summary>
        private void Transition()
        {
            var (observationSize, actionSize) = (_vector.ObservationSize, _vector.ActionSize);
            Array.Copy(_vector.Observations, _previous, _previous.Length);
            _vector.Step(_actions);
            for (var i = 0; i < _vector.Count; i++)
            {
                var next = (_vector.Done(i) ? _vector.FinalObservations : _vector.Observations).AsSpan(i * observationSize, observationSize);
                _buffer.Add(_taskOf[i], _previous.AsSpan(i * observationSize, observationSize), _actions.AsSpan(i * actionSize, actionSize), (float)_vector.Rewards[i], next, _vector.Terminated[i]);
            }
        }

        public void Dispose()
        {
            _agent.Dispose();
            _vector.Dispose();
        }
    }

    /// <summary>A batch of uniform random transitions: observations in [−1, 1], actions in (−1, 1), rewards in [0, 1], 5 % terminal.</summary>
    private static ReplayBatch RandomBatch(int tasks, int perTask, SplitMix64 random)
    {
        var rows = tasks * perTask;
        float[] Uniform(int count, double low, double high) => [.. Enumerable.Range(0, count).Select(_ => (float)(low + ((high - low) * random.NextDouble())))];
        return new ReplayBatch(perTask, Uniform(rows * ObservationSize, -1, 1), Uniform(rows * ActionSize, -0.999, 0.999), Uniform(rows, 0, 1),
            Uniform(rows * ObservationSize, -1, 1), [.. Enumerable.Range(0, rows).Select(_ => random.NextDouble() < 0.05 ? 1f : 0f)],
            [.. Enumerable.Range(0, rows).Select(r => (long)(r / perTask))]);
    }

    private static void UpdateReport(StringBuilder text, List<UpdateRow> rows, int warmup, int taskPassUpdates, int updates)
    {
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"One `MultiTaskSac.Update` (critics, actor, temperatures, target critics) on random batches, the three variants interleaved round robin after {warmup} warm-up rounds (the T-pass variant in the first {taskPassUpdates} rounds only{(taskPassUpdates < updates ? ", not in the warm-up" : "")}, see `--task-pass-updates`); medians over the repeats (ms). Critic/actor columns: the task-gradient and aggregation parts of each network's step as the update reports them (for mtsac: backward, and the optimizer step).");
        text.AppendLine();
        text.AppendLine("| T | repeats | variant | update (ms) | range | critic gradients | critic aggregation | actor gradients | actor aggregation | ratio to mtsac (median) | ratio range | target |");
        text.AppendLine("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var row in rows)
        {
            foreach (var (label, times) in row.Times)
            {
                var ratios = label switch { "pcgrad one-pass" => row.OnePassRatios, "pcgrad T-pass" => row.TaskPassRatios, _ => null };
                var target = label == "pcgrad one-pass" && Targets.TryGetValue(row.Tasks, out var bound)
                    ? (StepBenchmark.Median(ratios!) <= bound ? $"≤ {bound:F1} ✓" : $"≤ {bound:F1} ✗")
                    : "";
                text.AppendLine(c, $"| {row.Tasks} | {times.Count} | {label} | {Median(times, u => u.Total):F1} | {times.Min(u => u.Total):F0}–{times.Max(u => u.Total):F0} | {Median(times, u => u.CriticGradients):F1} | {Median(times, u => u.CriticSurgery):F1} | {Median(times, u => u.ActorGradients):F1} | {Median(times, u => u.ActorSurgery):F1} | {(ratios is null ? "1" : StepBenchmark.Median(ratios).ToString("F2", c))} | {(ratios is null ? "" : $"{ratios.Min():F2}–{ratios.Max():F2}")} | {target} |");
            }
        }
        text.AppendLine();
        text.AppendLine(c, $"Resident memory from the first to the last timed update (after GC and malloc_trim): {string.Join("; ", rows.Select(r => $"T = {r.Tasks}: {r.ResidentBefore:F0} → {r.ResidentAfter:F0} MiB"))}.");
        text.AppendLine();
    }

    private static void StepReport(StringBuilder text, IReadOnlyList<StepRow> rows, int steps, int warmup)
    {
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"MT10 training step (one environment per task, T = 10, batch {SacSettings.MetaWorld.BatchPerTask} per task, environments stepped on one thread): act + step the ten environments and store + one update; {steps} steps per variant after {warmup} warm-up rounds, the variants interleaved step by step; medians (ms).");
        text.AppendLine();
        text.AppendLine("| variant | hidden | act | environments + store | update | step | steps/s | update share |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var total = StepBenchmark.Median(r.Total);
            text.AppendLine(c, $"| {r.Label.Split(' ')[0]} | {string.Join("-", r.Hidden)} | {StepBenchmark.Median(r.Act):F2} | {StepBenchmark.Median(r.Environment):F2} | {StepBenchmark.Median(r.Update):F1} | {total:F1} | {1000 / total:F1} | {StepBenchmark.Median(r.Update) / total:P0} |");
        }
        text.AppendLine();
    }

    private static double Median(List<UpdateTimes> times, Func<UpdateTimes, double> part) => StepBenchmark.Median([.. times.Select(part)]);

    /// <summary>Writes through a temporary file and a rename, so that a reader never sees a half-written result.</summary>
    private static void WriteAtomically(string path, string text)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        File.Move(temporary, path, overwrite: true);
    }
}
