using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using GradientSurgery.Environments;
using GradientSurgery.Experiments.Logging;
using GradientSurgery.Experiments.Supervised;
using GradientSurgery.Rl;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Reinforcement;

/// <summary>One evaluation of a run, as logged: the vector step it followed and the values of <see cref="RlTrainer.Columns"/>.</summary>
/// <param name="Step">Vector steps done.</param>
/// <param name="Values">One value per column (NaN when not measured).</param>
public sealed record RlRecord(int Step, double[] Values)
{
    /// <summary>The value of <paramref name="column"/>, one of the run's <paramref name="columns"/> (<see cref="RlTrainer.Columns"/>).</summary>
    /// <exception cref="ArgumentException">The column is not logged.</exception>
    public double Value(IReadOnlyList<string> columns, string column)
    {
        ArgumentNullException.ThrowIfNull(columns);
        for (var k = 0; k < columns.Count && k < Values.Length; k++)
        {
            if (columns[k] == column)
            {
                return Values[k];
            }
        }
        throw new ArgumentException($"No column '{column}' in this record.", nameof(column));
    }
}

/// <summary>What a run reports while it trains (for a progress bar).</summary>
public interface IRlObserver
{
    /// <summary>The run starts (or resumes) at <paramref name="step"/> of <paramref name="total"/>.</summary>
    void Started(int step, int total);

    /// <summary>A vector step is done.</summary>
    void Stepped(int step);

    /// <summary>An evaluation is done (and checkpointed).</summary>
    void Evaluated(RlRecord record, IReadOnlyList<string> columns);
}

/// <summary>
/// Multi-task SAC on a suite, from start or from its checkpoint: collect one transition per task per vector step
/// (random actions during the warm-up), one update per vector step on a task-balanced batch, and every
/// <see cref="RlSettings.EvaluateEvery"/> steps a deterministic evaluation on fresh episodes, logged to
/// <c>metrics.csv</c> and TensorBoard and followed by a checkpoint.
/// </summary>
/// <remarks>
/// The checkpoint (<c>checkpoint.bin</c>, atomic, SHA-256, the previous one kept as <c>.prev</c>) holds the agent
/// (networks, target critics, temperatures, optimizers, the methods' states, the noise generator), the replay buffer,
/// the environments' positions (each episode's seed and actions so far, replayed on load), the sampling generator and
/// the logged history, so that a resumed run continues bit for bit as if it had never stopped.
/// </remarks>
public static class RlTrainer
{
    /// <summary>The checkpoint's file name in the run directory.</summary>
    public const string CheckpointName = "checkpoint.bin";

    /// <summary>The logged columns of a suite's run, after <c>step</c>.</summary>
    public static IReadOnlyList<string> Columns(IReadOnlyList<string> taskNames)
    {
        ArgumentNullException.ThrowIfNull(taskNames);
        List<string> columns = ["transitions", "seconds", "mean_success", "mean_return", "train_success"];
        columns.AddRange(taskNames.Select(t => $"success/{t}"));
        columns.AddRange(taskNames.Select(t => $"return/{t}"));
        columns.AddRange(taskNames.Select(t => $"temperature/{t}"));
        columns.AddRange(["mean_q", "critic_loss", "actor_loss"]);
        foreach (var network in new[] { "critic", "actor" })
        {
            columns.AddRange([$"{network}_conflict_fraction", $"{network}_cosine", $"{network}_phi", $"{network}_xi"]);
        }
        return columns;
    }

    /// <summary>Trains (or resumes) the run in <paramref name="directory"/>; returns the logged history.</summary>
    /// <param name="settings">The run's settings.</param>
    /// <param name="directory">The run directory (metrics, TensorBoard, checkpoint).</param>
    /// <param name="resume">Continue from the directory's checkpoint, if there is one.</param>
    /// <param name="observer">Told of progress (a progress bar).</param>
    /// <param name="stop">
    /// Ends the run after the current step. The last checkpoint (written at the last evaluation) stays as it is, and a
    /// resume repeats the steps since it: a checkpoint between evaluations would have to carry the half-filled
    /// averages of the next log row.
    /// </param>
    /// <exception cref="ArgumentException">Bad settings, or a resume whose checkpoint was written by other settings.</exception>
    /// <exception cref="InvalidDataException">A corrupt checkpoint (the message names the file).</exception>
    public static IReadOnlyList<RlRecord> Train(RlSettings settings, string directory, bool resume, IRlObserver? observer = null, CancellationToken stop = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var suite = Suite.Find(settings.Suite);
        Directory.CreateDirectory(directory);

        // libtorch's thread count is process-wide: the run's, then the caller's again.
        var callersThreads = get_num_threads();
        set_num_threads(settings.Threads ?? callersThreads);
        try
        {
            return Train(settings, suite, directory, resume, observer, stop);
        }
        finally
        {
            set_num_threads(callersThreads);
        }
    }

    private static List<RlRecord> Train(RlSettings settings, Suite suite, string directory, bool resume, IRlObserver? observer, CancellationToken stop)
    {
        var taskNames = suite.TaskNames;
        var tasks = taskNames.Count;
        var columns = Columns(taskNames);
        var checkpointPath = Path.Combine(directory, CheckpointName);
        using var vector = suite.CreateVector(1, unchecked((ulong)settings.Seed), settings.Threads);
        var (observationSize, actionSize) = (vector.ObservationSize, vector.ActionSize);
        using var agent = new MultiTaskSac(settings.Method, tasks, observationSize, actionSize, settings.Sac, settings.Seed);
        var buffer = new ReplayBuffer(tasks, settings.BufferPerTask, observationSize, actionSize);
        var random = new SplitMix64(unchecked((ulong)settings.Seed * 0x9E3779B97F4A7C15UL + 0x5EED));
        var history = new List<RlRecord>();
        var step = 0;
        double elapsedBefore = 0;
        if (resume && CheckpointFile.Exists(checkpointPath))
        {
            (step, elapsedBefore, buffer) = Restore(checkpointPath, settings, agent, vector, random, history);
        }
        else
        {
            vector.Reset();
        }

        using var log = new MetricsLog(Path.Combine(directory, "metrics.csv"), ["method", "seed"], columns, Path.Combine(directory, "tensorboard"));
        string[] keys = [settings.Method, settings.Seed.ToString(CultureInfo.InvariantCulture)];
        foreach (var record in history)
        {
            log.Write(keys, record.Step, record.Values, toTensorBoard: false);
        }
        observer?.Started(step, settings.Steps);

        var clock = Stopwatch.StartNew();
        var window = new UpdateWindow(tasks);
        var taskOf = vector.Tasks.ToArray();
        var actions = new float[vector.Count * actionSize];
        var previous = new float[vector.Count * observationSize];
        while (step < settings.Steps && !stop.IsCancellationRequested)
        {
            Array.Copy(vector.Observations, previous, previous.Length);
            if (step < settings.WarmupSteps)
            {
                for (var k = 0; k < actions.Length; k++)
                {
                    actions[k] = (float)((2 * random.NextDouble()) - 1);
                }
            }
            else
            {
                agent.Act(vector.Observations, taskOf, deterministic: false, actions);
            }
            vector.Step(actions);
            for (var i = 0; i < vector.Count; i++)
            {
                var next = (vector.Done(i) ? vector.FinalObservations : vector.Observations).AsSpan(i * observationSize, observationSize);
                buffer.Add(taskOf[i], previous.AsSpan(i * observationSize, observationSize), actions.AsSpan(i * actionSize, actionSize), (float)vector.Rewards[i], next, vector.Terminated[i]);
                if (vector.Done(i))
                {
                    window.AddEpisode(vector.EpisodeSuccesses[i]);
                }
            }
            if (step >= settings.WarmupSteps - 1)
            {
                window.Add(agent.Update(buffer.Sample(settings.Sac.BatchPerTask, random)));
            }
            step++;
            observer?.Stepped(step);
            if (step % settings.EvaluateEvery == 0 || step == settings.Steps)
            {
                var evaluation = RlEvaluation.Run(agent, suite, settings.EvaluationEpisodes, EvaluationSeed(settings.Seed, step), settings.Threads);
                var seconds = elapsedBefore + clock.Elapsed.TotalSeconds;
                var record = new RlRecord(step, [.. Row(step * vector.Count, seconds, evaluation, agent.Temperatures(), window)]);
                window.Clear();
                history.Add(record);
                log.Write(keys, step, record.Values);
                Save(checkpointPath, settings, step, seconds, agent, buffer, vector, random, history);
                observer?.Evaluated(record, columns);
            }
        }
        return history;
    }

    /// <summary>The agent of a run's checkpoint, for evaluation: the settings and the agent (the caller disposes it).</summary>
    /// <exception cref="InvalidDataException">No readable checkpoint in <paramref name="directory"/>.</exception>
    public static (RlSettings Settings, MultiTaskSac Agent) LoadAgent(string directory)
    {
        var path = Path.Combine(directory, CheckpointName);
        var sections = Read(path);
        var settings = Deserialize(sections, path);
        var suite = Suite.Find(settings.Suite);
        using var probe = suite.Create(0);
        var agent = new MultiTaskSac(settings.Method, suite.TaskNames.Count, probe.Spec.ObservationSize, probe.Spec.ActionSize, settings.Sac, settings.Seed);
        try
        {
            agent.Load(new BinaryReader(new MemoryStream(sections["agent"])));
            return (settings, agent);
        }
        catch (Exception malformed) when (malformed is KeyNotFoundException or InvalidDataException)
        {
            agent.Dispose();
            throw new InvalidDataException($"{path} passed its checksum but its agent cannot be read: {malformed.Message}", malformed);
        }
    }

    /// <summary>The history logged in a run's checkpoint, with its settings (for summaries and plots).</summary>
    public static (RlSettings Settings, IReadOnlyList<RlRecord> History) ReadHistory(string directory)
    {
        var path = Path.Combine(directory, CheckpointName);
        var sections = Read(path);
        return (Deserialize(sections, path), JsonSerializer.Deserialize<List<RlRecord>>(sections["history"], HistoryJson)!);
    }

    // NaN marks a value not measured (no conflicts under a loss weighting, no update before the warm-up ends).
    private static readonly JsonSerializerOptions HistoryJson = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private static ulong EvaluationSeed(long seed, int step) => unchecked(((ulong)seed * 0xD1B54A32D192ED03UL) + (ulong)step);

    private static IEnumerable<double> Row(long transitions, double seconds, RlEvaluation.Result evaluation, double[] temperatures, UpdateWindow window)
    {
        yield return transitions;
        yield return seconds;
        yield return evaluation.Success.Average();
        yield return evaluation.Return.Average();
        yield return window.TrainSuccess;
        foreach (var value in evaluation.Success.Concat(evaluation.Return).Concat(temperatures))
        {
            yield return value;
        }
        yield return window.MeanQ;
        yield return window.CriticLoss;
        yield return window.ActorLoss;
        foreach (var conflicts in new[] { window.CriticConflicts, window.ActorConflicts })
        {
            yield return conflicts.ConflictFraction;
            yield return conflicts.MeanCosine;
            yield return conflicts.MagnitudeSimilarity;
            yield return conflicts.Curvature;
        }
    }

    private static void Save(string path, RlSettings settings, int step, double seconds, MultiTaskSac agent, ReplayBuffer buffer, VectorEnvironment vector, SplitMix64 random, List<RlRecord> history)
    {
        // Streamed: the replay buffer alone is hundreds of megabytes at the end of an mt10 run.
        CheckpointFile.Write(path,
        [
            new("settings", w => w.Write(JsonSerializer.SerializeToUtf8Bytes(settings))),
            new("position", w => { w.Write(step); w.Write(seconds); w.Write(random.State); }),
            new("agent", agent.Save),
            new("replay", buffer.Save),
            new("environments", vector.SaveState),
            new("history", w => w.Write(JsonSerializer.SerializeToUtf8Bytes(history, HistoryJson))),
        ]);
    }

    private static (int Step, double Seconds, ReplayBuffer Buffer) Restore(string path, RlSettings settings, MultiTaskSac agent, VectorEnvironment vector, SplitMix64 random, List<RlRecord> history)
    {
        var sections = Read(path);
        var stored = Deserialize(sections, path);
        if (!settings.CanResume(stored))
        {
            throw new ArgumentException($"The checkpoint {path} was written by a different run ({stored}); --resume needs the same settings (only --steps may grow), requested {settings}.");
        }
        try
        {
            using var position = new BinaryReader(new MemoryStream(sections["position"]));
            var (step, seconds, state) = (position.ReadInt32(), position.ReadDouble(), position.ReadUInt64());
            if (step > settings.Steps)
            {
                throw new ArgumentException($"The checkpoint {path} is at step {step}, beyond the requested --steps {settings.Steps}.");
            }
            random.State = state;
            agent.Load(new BinaryReader(new MemoryStream(sections["agent"])));
            var buffer = ReplayBuffer.Load(new BinaryReader(new MemoryStream(sections["replay"])));
            vector.LoadState(new BinaryReader(new MemoryStream(sections["environments"])));
            history.AddRange(JsonSerializer.Deserialize<List<RlRecord>>(sections["history"], HistoryJson)!);
            return (step, seconds, buffer);
        }
        catch (Exception malformed) when (malformed is KeyNotFoundException or EndOfStreamException or JsonException)
        {
            throw new InvalidDataException($"{path} passed its checksum but is missing or has malformed sections: {malformed.Message}", malformed);
        }
    }

    // The last checkpoint, or the one before it when the last is damaged (a crash while writing loses nothing).
    private static IReadOnlyDictionary<string, byte[]> Read(string path) => CheckpointFile.Exists(path)
        ? CheckpointFile.ReadLatest(path)
        : throw new InvalidDataException($"No checkpoint at {path}: is this a run directory of 'gsurg rl train'?");

    private static RlSettings Deserialize(IReadOnlyDictionary<string, byte[]> sections, string path)
    {
        try
        {
            return JsonSerializer.Deserialize<RlSettings>(sections["settings"]) ?? throw new JsonException("null settings");
        }
        catch (Exception malformed) when (malformed is KeyNotFoundException or JsonException)
        {
            throw new InvalidDataException($"{path} has no readable settings section: {malformed.Message}", malformed);
        }
    }

    /// <summary>Means of the update statistics and training episodes between two evaluations.</summary>
    private sealed class UpdateWindow(int tasks)
    {
        private double _q, _critic, _actor;
        private int _updates, _episodes, _successes;

        public ConflictAverages CriticConflicts { get; } = new();

        public ConflictAverages ActorConflicts { get; } = new();

        public double MeanQ => _updates == 0 ? double.NaN : _q / _updates;

        public double CriticLoss => _updates == 0 ? double.NaN : _critic / _updates;

        public double ActorLoss => _updates == 0 ? double.NaN : _actor / _updates;

        public double TrainSuccess => _episodes == 0 ? double.NaN : (double)_successes / _episodes;

        public void Add(SacUpdateReport report)
        {
            _q += report.MeanQ;
            _critic += report.CriticLosses.Sum() / tasks;
            _actor += report.ActorLosses.Sum() / tasks;
            _updates++;
            CriticConflicts.Add(report.CriticConflicts);
            ActorConflicts.Add(report.ActorConflicts);
        }

        public void AddEpisode(bool success)
        {
            _episodes++;
            _successes += success ? 1 : 0;
        }

        public void Clear()
        {
            (_q, _critic, _actor, _updates, _episodes, _successes) = (0, 0, 0, 0, 0, 0);
            CriticConflicts.Clear();
            ActorConflicts.Clear();
        }
    }
}
