using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using GradientSurgery.Aggregation;
using GradientSurgery.Diagnostics;
using GradientSurgery.Distributed;
using GradientSurgery.Experiments.Logging;
using GradientSurgery.Models;
using GradientSurgery.Training;
using GradientSurgery.Weighting;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>
/// Trains a multi-task network (any <see cref="IMultiTaskNetwork"/>) on a benchmark's tasks (<see cref="IBenchmarkTasks"/>:
/// by default <see cref="ClassificationTasks"/>, cross-entropy per task over the examples labelled for it; NYUv2's dense
/// tasks with <see cref="Nyuv2Tasks"/>) with any method of <see cref="MethodCatalog"/>: an aggregator through the features path of the multi-task backward
/// where the network has a shared representation (the parameters path where it has none, <see cref="MultiTaskOutput"/>), or a
/// loss weighting through one ordinary backward of its objective. Per epoch it records train/test loss per task, the
/// benchmark's metrics (accuracy per task, or NYUv2's) and the conflict diagnostics, to CSV and TensorBoard, and writes a checkpoint (model, Adam
/// state, the method's state, random generator, position in the epoch) from which <c>resume</c> continues to
/// exactly the weights an uninterrupted run reaches.
/// </summary>
/// <remarks>
/// <para>
/// Files in the run directory: run.json (the settings), checkpoint.bin and checkpoint.bin.prev, metrics.csv,
/// tensorboard/, and model.bin (the final weights) once all epochs are done.
/// </para>
/// <para>
/// A loss weighting is trained as <see cref="LossWeightingStep"/> prescribes: its learnable weights (UW,
/// GradNorm) are in the same Adam optimizer as the model, with the same learning rate; DWA's epoch closes after
/// the last batch of each epoch; GradNorm balances the gradient norms on
/// <see cref="IMultiTaskNetwork.LastSharedLayerWeight"/>; uncertainty weighting uses the likelihood of the benchmark's
/// tasks (<see cref="IBenchmarkTasks.Likelihood"/>: for classification Kendall et al.'s Eq. 10, since every task's loss is
/// a cross-entropy). FAMO's losses after the step
/// are recomputed on the same batch under <c>no_grad</c> with the model still in training mode (dropout active,
/// with fresh masks), as FAMO's official training scripts do: they never switch to evaluation mode for it, and
/// doing so would compare a loss with dropout before the step against one without dropout after it, so the
/// measured decrease would mostly be the effect of switching dropout off. The checkpoint holds the weighting's
/// state (<see cref="IStateful"/>), the values of its learnable weights, and their Adam moments (in the
/// optimizer's state); since the recomputation draws dropout masks, the random generator saved with it keeps a
/// resumed run exact.
/// </para>
/// <para>
/// Data-parallel training over MPI (<c>world</c>): every rank holds a replica, takes its equal shard of every global
/// batch (the global batch is <see cref="TrainingSettings.BatchSize"/>) and the <see cref="DistributedSteps"/> step
/// applies the surgery of the global batch's Jacobian, so that the replicas stay identical; the model's random layers
/// draw for the global batch (<see cref="IMultiTaskNetwork.Shard"/>), so that R ranks compute what one process computes,
/// up to the rounding of the sums over the shards. Rank 0 writes every file and resumes from its checkpoint for all.
/// </para>
/// <para>
/// A step that fails on a non-finite loss or gradient (an <see cref="ArithmeticException"/> raised before any
/// parameter changes) loses nothing: the trainer puts back the random generator and the method's state as they
/// were before the batch, writes the checkpoint of that state and throws one line naming the step, epoch, batch,
/// the task and the checkpoint; <c>resume</c> retries the same batch.
/// </para>
/// </remarks>
public sealed class MultiTaskTrainer<TModel>
    where TModel : nn.Module<Tensor, Tensor[]>, IMultiTaskNetwork
{
    private const string CheckpointName = "checkpoint.bin";
    private const int EvaluationBatch = 1000;

    // Dense predictions hold H×W values per task and image: evaluate them in small batches.
    private const int DenseEvaluationBatch = 8;

    // The history holds NaN for statistics that were not measured (the conflicts of a loss-weighting run), which
    // plain JSON cannot represent.
    // The checkpoint section of the method's own state; checkpoints written before the method catalog called it
    // "aggregator" (it held a loss weighting's state too), and they still resume.
    private const string MethodSection = "method";
    private const string LegacyMethodSection = "aggregator";

    private static readonly JsonSerializerOptions HistoryJson = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private readonly Func<TModel> _createModel;
    private readonly IBenchmarkTasks? _tasks;

    /// <summary>Creates a trainer for models built by <paramref name="createModel"/> (called after the seed is set).</summary>
    /// <param name="createModel">Builds the model.</param>
    /// <param name="tasks">The benchmark's tasks; classification (<see cref="ClassificationTasks"/>) with the model's task count when null.</param>
    public MultiTaskTrainer(Func<TModel> createModel, IBenchmarkTasks? tasks = null)
    {
        ArgumentNullException.ThrowIfNull(createModel);
        _createModel = createModel;
        _tasks = tasks;
    }

    /// <summary>The settings file of a run directory.</summary>
    public static string SettingsPath(string runDirectory) => Path.Combine(runDirectory, "run.json");

    /// <summary>The final weights of a finished run.</summary>
    public static string ModelPath(string runDirectory) => Path.Combine(runDirectory, "model.bin");

    /// <summary>Reads run.json.</summary>
    public static TrainingSettings ReadSettings(string runDirectory)
    {
        var path = SettingsPath(runDirectory);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} does not exist: '{runDirectory}' is not a training run directory.", path);
        }
        try
        {
            return JsonSerializer.Deserialize<TrainingSettings>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path} is empty.");
        }
        catch (JsonException malformed)
        {
            throw new InvalidDataException($"{path} is not valid run settings: {malformed.Message}", malformed);
        }
    }

    /// <summary>
    /// Trains (or, with <paramref name="resume"/>, continues) a run in <paramref name="runDirectory"/>.
    /// </summary>
    /// <param name="settings">The run's settings.</param>
    /// <param name="train">Training split.</param>
    /// <param name="test">Test split, evaluated after every epoch.</param>
    /// <param name="runDirectory">Where the run's files go.</param>
    /// <param name="resume">Continue from the run's checkpoint (its settings must match, except a larger epoch count).</param>
    /// <param name="observer">Progress callbacks.</param>
    /// <param name="stopAfterSteps">Stop (after writing a checkpoint) once this many steps have been taken in total.</param>
    /// <param name="cancellation">Stops after the current step, writing a checkpoint.</param>
    /// <param name="world">
    /// The ranks of a data-parallel run, all calling <c>Train</c> with the same arguments (rank 0's observer reports;
    /// the others may pass none); null for one process.
    /// </param>
    public TrainingOutcome Train(
        TrainingSettings settings, IMultiTaskData train, IMultiTaskData test, string runDirectory, bool resume,
        ITrainingObserver? observer = null, long? stopAfterSteps = null, CancellationToken cancellation = default, MpiCommunicator? world = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        settings.Validate();
        if (world is not null && _tasks is { SupportsDataParallel: false })
        {
            // Every rank meets this before any collective call.
            throw new NotSupportedException($"Data-parallel training of {settings.Benchmark} is not supported (its test metrics cannot be summed over ranks); train it in one process.");
        }
        var group = new DataParallelGroup(world);
        group.CheckStart(settings, train);
        if (group.Writes)
        {
            Directory.CreateDirectory(runDirectory);
        }
        var checkpointPath = Path.Combine(runDirectory, CheckpointName);

        manual_seed(settings.Seed);
        using var model = _createModel();
        if (model.TaskCount != train.TaskCount || model.TaskCount != test.TaskCount)
        {
            throw new ArgumentException($"The model has {model.TaskCount} heads but the data has {train.TaskCount} (train) and {test.TaskCount} (test) tasks.");
        }
        var tasks = _tasks ?? new ClassificationTasks(model.TaskCount);
        if (tasks.TaskCount != model.TaskCount)
        {
            throw new ArgumentException($"The model has {model.TaskCount} heads but the benchmark's tasks ({tasks.GetType().Name}) are {tasks.TaskCount}.");
        }
        var setup = new MethodSetup(
            model.parameters(), model.SharedParameters, model.TaskCount, parameters => optim.Adam(parameters, settings.LearningRate),
            model.LastSharedLayerWeight, tasks.Likelihood, model.TaskParameters);
        using var method = world is null
            ? MethodCatalog.CreateStep(settings.Method, settings.Seed, setup)
            : DistributedSteps.Create(settings.Method, settings.Seed, setup, world);
        var history = new List<EpochMetrics>();
        var accumulator = new EpochAccumulator(model.TaskCount);
        var position = new Position(0, 0, 0);

        if (resume)
        {
            position = Restore(group.Checkpoint(() => ReadCheckpoint(checkpointPath, observer)), checkpointPath, settings, model, method, accumulator, history);
        }
        else if (group.Writes)
        {
            AtomicFile.WriteAllText(SettingsPath(runDirectory), JsonSerializer.Serialize(settings, new JsonSerializerOptions { WriteIndented = true }));
        }

        var batchesPerEpoch = (int)((train.Count + settings.BatchSize - 1) / settings.BatchSize);
        observer?.Started(position.Epoch, position.Batch, batchesPerEpoch, resume);
        using var log = group.Writes ? OpenLog(runDirectory, tasks, history) : null;
        var clock = new Stopwatch();
        for (var epoch = position.Epoch; epoch < settings.Epochs; epoch++)
        {
            using var order = randperm(train.Count, generator: new Generator(EpochSeed(settings.Seed, epoch)));
            for (var batch = epoch == position.Epoch ? position.Batch : 0; batch < batchesPerEpoch; batch++)
            {
                clock.Restart();
                // What a failed step may already have changed: the generator (dropout masks) and the method's state.
                // The model and the optimizer's state are untouched until every gradient has been checked.
                using var generatorBefore = random.get_rng_state();
                var methodBefore = Bytes(method.SaveState);
                try
                {
                    using var scope = NewDisposeScope();
                    var start = (long)batch * settings.BatchSize;
                    var globalLength = Math.Min(settings.BatchSize, train.Count - start);
                    var (offset, length) = group.Shard(globalLength);
                    model.Shard.Select(offset, globalLength);
                    var index = order.narrow(0, start + offset, length);
                    var inputs = train.Inputs.index_select(0, index);
                    var labels = train.Targets.Select(l => l.index_select(0, index)).ToArray();
                    var (outputs, features) = model.Forward(inputs);
                    if (world is not null && features is null)
                    {
                        // Every rank meets this at its first step, before any collective call.
                        throw new NotSupportedException(
                            $"Data-parallel training needs a network with a shared representation (the features path); {model.GetType().Name} has none (shared parameters sit between task-specific ones). Train it in one process.");
                    }
                    var losses = tasks.Losses(outputs, labels);
                    // FAMO's feedback: the same batch after the step, in training mode (see the class remarks).
                    var report = method.Step(losses, features, () => tasks.Losses(model.forward(inputs), labels));
                    (model as IRewardedNetwork)?.Reward([.. outputs.Select(o => o.detach())], labels);
                    var (correct, labelled) = tasks.TrainingCounts(outputs, labels);
                    group.Sum(correct);
                    group.Sum(labelled);
                    accumulator.Add(report.Losses, report.Conflicts, [.. correct.Select(c => (long)c)], [.. labelled.Select(c => (long)c)], globalLength, clock.Elapsed.TotalSeconds);
                }
                catch (ArithmeticException notFinite)
                {
                    random.set_rng_state(generatorBefore);
                    method.LoadState(new BinaryReader(new MemoryStream(methodBefore)));
                    if (group.Writes)
                    {
                        Save(checkpointPath, settings, position, model, method, accumulator, history);
                    }
                    // Every rank meets the failure (the step's checks are collective); the checkpoint is done before any rank ends the job.
                    group.Barrier();
                    throw new ArithmeticException(
                        $"Step {position.Steps + 1} (epoch {epoch + 1}, batch {batch + 1} of {batchesPerEpoch}) failed: {notFinite.Message} " +
                        $"The state before this batch is saved in {checkpointPath}; continue with --resume.",
                        notFinite);
                }
                position = new Position(epoch, batch + 1, position.Steps + 1);
                observer?.Stepped(epoch, batch + 1);
                if ((stopAfterSteps is { } limit && position.Steps >= limit) || group.Stop(cancellation.IsCancellationRequested))
                {
                    if (group.Writes)
                    {
                        Save(checkpointPath, settings, position, model, method, accumulator, history);
                    }
                    return new TrainingOutcome(false, position.Steps, history);
                }
            }
            method.EndEpoch();
            var metrics = accumulator.Close(epoch + 1, Evaluate(model, test, tasks, group));
            history.Add(metrics);
            accumulator = new EpochAccumulator(model.TaskCount);
            position = new Position(epoch + 1, 0, position.Steps);
            log?.Write([], metrics.Epoch, tasks.Row(metrics));
            observer?.EpochFinished(metrics);
            if (group.Writes)
            {
                Save(checkpointPath, settings, position, model, method, accumulator, history);
            }
        }
        if (group.Writes)
        {
            model.save(ModelPath(runDirectory));
        }
        return new TrainingOutcome(true, position.Steps, history);
    }

    /// <summary>Test loss and accuracy per task of <paramref name="model"/> on <paramref name="data"/> (eval mode, no gradients).</summary>
    public static (double[] Loss, double[] Accuracy) Evaluate(TModel model, ClassificationData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var evaluation = Evaluate(model, data, new ClassificationTasks(data.TaskCount));
        return (evaluation.Loss, evaluation.Accuracy);
    }

    /// <summary>The benchmark's test metrics of <paramref name="model"/> on <paramref name="data"/> (eval mode, no gradients).</summary>
    /// <param name="model">The model.</param>
    /// <param name="data">The split.</param>
    /// <param name="tasks">The benchmark's tasks.</param>
    public static TaskEvaluation Evaluate(TModel model, IMultiTaskData data, IBenchmarkTasks tasks) => Evaluate(model, data, tasks, new DataParallelGroup(null));

    /// <summary>Evaluation shared by the ranks: each evaluates its part of the data, and the sums are added up.</summary>
    private static TaskEvaluation Evaluate(TModel model, IMultiTaskData data, IBenchmarkTasks tasks, DataParallelGroup group)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(tasks);
        var evaluation = tasks.StartEvaluation();
        var (first, count) = group.Part(data.Count);
        var batchSize = data.Targets.Any(t => t.dim() > 2) ? DenseEvaluationBatch : EvaluationBatch;
        model.eval();
        using (no_grad())
        {
            for (var start = first; start < first + count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var length = Math.Min(batchSize, first + count - start);
                var outputs = model.forward(data.Inputs.narrow(0, start, length));
                evaluation.Add(outputs, [.. data.Targets.Select(t => t.narrow(0, start, length))]);
            }
        }
        model.train();
        return evaluation.Finish(group.Sum);
    }

    /// <summary>Column names of metrics.csv after the leading epoch column, for a classification benchmark of <paramref name="tasks"/> tasks.</summary>
    /// <remarks>See <see cref="ClassificationTasks.Columns"/>; other benchmarks' columns are their <see cref="IBenchmarkTasks.Columns"/>.</remarks>
    public static string[] Columns(int tasks) => new ClassificationTasks(tasks).Columns();

    private static MetricsLog OpenLog(string runDirectory, IBenchmarkTasks tasks, IReadOnlyList<EpochMetrics> history)
    {
        var log = new MetricsLog(Path.Combine(runDirectory, "metrics.csv"), [], tasks.Columns(), Path.Combine(runDirectory, "tensorboard"), stepColumn: "epoch");
        foreach (var metrics in history)
        {
            // Already in TensorBoard from the session that trained them; only the CSV is rewritten.
            log.Write([], metrics.Epoch, tasks.Row(metrics), toTensorBoard: false);
        }
        return log;
    }

    private static byte[] Bytes(Action<BinaryWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            write(writer);
        }
        return stream.ToArray();
    }

    private static ulong EpochSeed(long seed, int epoch) => unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)epoch + 1);

    private readonly record struct Position(int Epoch, int Batch, long Steps);

    private static void Save(
        string path, TrainingSettings settings, Position position, TModel model, IMultiTaskStep method,
        EpochAccumulator accumulator, IReadOnlyList<EpochMetrics> history)
    {
        var sections = new Dictionary<string, byte[]>
        {
            ["settings"] = JsonSerializer.SerializeToUtf8Bytes(settings),
            ["position"] = Bytes(w => { w.Write(position.Epoch); w.Write(position.Batch); w.Write(position.Steps); }),
            ["model"] = Bytes(w => model.save(w)),
            ["optimizer"] = Bytes(Adam(method).save_state_dict),
            [MethodSection] = Bytes(method.SaveState),
            ["rng"] = Bytes(w =>
            {
                using var state = random.get_rng_state();
                w.Write(state.data<byte>().ToArray());
            }),
            ["epoch"] = Bytes(accumulator.Save),
            ["history"] = JsonSerializer.SerializeToUtf8Bytes(history, HistoryJson),
        };
        CheckpointFile.Write(path, sections);
    }

    private static Position Restore(
        IReadOnlyDictionary<string, byte[]> sections, string path, TrainingSettings settings, TModel model, IMultiTaskStep method,
        EpochAccumulator accumulator, List<EpochMetrics> history)
    {
        try
        {
            var stored = JsonSerializer.Deserialize<TrainingSettings>(sections["settings"])!;
            if (!settings.CanResume(stored))
            {
                throw new ArgumentException($"The checkpoint {path} was written by a different run ({stored}); --resume needs the same settings (only --epochs may grow), requested {settings}.");
            }
            using var position = new BinaryReader(new MemoryStream(sections["position"]));
            var restored = new Position(position.ReadInt32(), position.ReadInt32(), position.ReadInt64());
            model.load(new BinaryReader(new MemoryStream(sections["model"])));
            Adam(method).load_state_dict(new BinaryReader(new MemoryStream(sections["optimizer"])));
            method.LoadState(new BinaryReader(new MemoryStream(MethodState(sections))));
            using (var state = tensor(sections["rng"], dtype: ScalarType.Byte))
            {
                random.set_rng_state(state);
            }
            accumulator.Load(new BinaryReader(new MemoryStream(sections["epoch"])));
            history.AddRange(JsonSerializer.Deserialize<List<EpochMetrics>>(sections["history"], HistoryJson)!);
            return restored;
        }
        catch (Exception malformed) when (malformed is KeyNotFoundException or EndOfStreamException or JsonException)
        {
            throw new InvalidDataException($"{path} passed its checksum but is missing or has malformed sections: {malformed.Message}", malformed);
        }
    }

    // The step's optimizer is the optim.Adam that Train builds; its state goes into the checkpoint.
    private static OptimizerHelper Adam(IMultiTaskStep method) => (OptimizerHelper)method.Optimizer;

    private static byte[] MethodState(IReadOnlyDictionary<string, byte[]> sections) =>
        sections.TryGetValue(MethodSection, out var state) ? state : sections[LegacyMethodSection];

    private static IReadOnlyDictionary<string, byte[]> ReadCheckpoint(string path, ITrainingObserver? observer)
    {
        if (!CheckpointFile.Exists(path))
        {
            throw new FileNotFoundException($"Cannot resume: there is no checkpoint ({path}).", path);
        }
        try
        {
            return CheckpointFile.ReadLatest(path, latest => observer?.Warning(
                $"Refusing {path}: {latest.Message} Resuming from the previous checkpoint {CheckpointFile.PreviousPath(path)} instead; it is older, so some steps are repeated."));
        }
        catch (Exception latest) when ((latest is InvalidDataException or FileNotFoundException) && !File.Exists(CheckpointFile.PreviousPath(path)))
        {
            throw new InvalidDataException($"Cannot resume: {latest.Message} There is no previous checkpoint to fall back to.", latest);
        }
    }
}
