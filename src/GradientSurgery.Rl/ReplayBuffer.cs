namespace GradientSurgery.Rl;

/// <summary>
/// One sampled batch: <see cref="PerTask"/> transitions of every task, task 0's first, each row-major.
/// </summary>
/// <param name="PerTask">Transitions per task.</param>
/// <param name="Observations">[T·B, observation size].</param>
/// <param name="Actions">[T·B, action size].</param>
/// <param name="Rewards">[T·B].</param>
/// <param name="NextObservations">[T·B, observation size].</param>
/// <param name="Terminated">[T·B]: 1 where the episode ended in a terminal state (no bootstrap), else 0. A time-limit truncation is not terminal.</param>
/// <param name="TaskIds">[T·B]: the task of each row.</param>
public sealed record ReplayBatch(int PerTask, float[] Observations, float[] Actions, float[] Rewards, float[] NextObservations, float[] Terminated, long[] TaskIds);

/// <summary>
/// A replay buffer per task, each a ring of fixed capacity (the oldest transition is overwritten first), sampled
/// uniformly and with replacement from a seeded generator, the same number of transitions from every task (as
/// Meta-World's MT-SAC baseline does), so that every task's loss is the mean over its own samples.
/// </summary>
/// <remarks>
/// Plain float arrays rather than tensors: the buffer lives for the whole run (millions of transitions at MT10's
/// budget), is written one transition at a time by the environment loop, and is saved in checkpoints; the agent turns a
/// sampled batch into tensors once per update.
/// </remarks>
public sealed class ReplayBuffer
{
    private const int FormatVersion = 1;
    private static readonly byte[] Magic = "GSRB"u8.ToArray();

    private readonly float[][] _observations;
    private readonly float[][] _actions;
    private readonly float[][] _rewards;
    private readonly float[][] _nextObservations;
    private readonly float[][] _terminated;
    private readonly int[] _count;
    private readonly int[] _next;

    /// <summary>An empty buffer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size below 1.</exception>
    public ReplayBuffer(int taskCount, int capacityPerTask, int observationSize, int actionSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(taskCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityPerTask, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(observationSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(actionSize, 1);
        (TaskCount, CapacityPerTask, ObservationSize, ActionSize) = (taskCount, capacityPerTask, observationSize, actionSize);
        _observations = Allocate(observationSize);
        _actions = Allocate(actionSize);
        _rewards = Allocate(1);
        _nextObservations = Allocate(observationSize);
        _terminated = Allocate(1);
        _count = new int[taskCount];
        _next = new int[taskCount];
    }

    /// <summary>Tasks (T).</summary>
    public int TaskCount { get; }

    /// <summary>Transitions kept per task.</summary>
    public int CapacityPerTask { get; }

    /// <summary>Entries of an observation.</summary>
    public int ObservationSize { get; }

    /// <summary>Entries of an action.</summary>
    public int ActionSize { get; }

    /// <summary>Transitions stored for <paramref name="task"/> (at most <see cref="CapacityPerTask"/>).</summary>
    public int Count(int task) => _count[RequireTask(task)];

    /// <summary>Stores one transition of <paramref name="task"/>, overwriting its oldest when full.</summary>
    /// <exception cref="ArgumentException">A span of the wrong length or a non-finite number (named with the task).</exception>
    public void Add(int task, ReadOnlySpan<float> observation, ReadOnlySpan<float> action, float reward, ReadOnlySpan<float> nextObservation, bool terminated)
    {
        RequireTask(task);
        RequireFinite(task, "observation", observation, ObservationSize);
        RequireFinite(task, "action", action, ActionSize);
        RequireFinite(task, "reward", [reward], 1);
        RequireFinite(task, "next observation", nextObservation, ObservationSize);
        var slot = _next[task];
        observation.CopyTo(_observations[task].AsSpan(slot * ObservationSize, ObservationSize));
        action.CopyTo(_actions[task].AsSpan(slot * ActionSize, ActionSize));
        _rewards[task][slot] = reward;
        nextObservation.CopyTo(_nextObservations[task].AsSpan(slot * ObservationSize, ObservationSize));
        _terminated[task][slot] = terminated ? 1f : 0f;
        _next[task] = (slot + 1) % CapacityPerTask;
        _count[task] = Math.Min(_count[task] + 1, CapacityPerTask);
    }

    /// <summary><paramref name="perTask"/> transitions of every task, drawn uniformly with replacement.</summary>
    /// <exception cref="InvalidOperationException">A task has no transition yet (named).</exception>
    public ReplayBatch Sample(int perTask, SplitMix64 random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perTask, 1);
        ArgumentNullException.ThrowIfNull(random);
        for (var task = 0; task < TaskCount; task++)
        {
            if (_count[task] == 0)
            {
                throw new InvalidOperationException($"Task {task} has no transition in the replay buffer yet: collect (warm-up steps) before sampling.");
            }
        }
        var rows = TaskCount * perTask;
        var batch = new ReplayBatch(perTask, new float[rows * ObservationSize], new float[rows * ActionSize], new float[rows],
            new float[rows * ObservationSize], new float[rows], new long[rows]);
        for (var task = 0; task < TaskCount; task++)
        {
            for (var k = 0; k < perTask; k++)
            {
                var row = (task * perTask) + k;
                var slot = random.NextInt(_count[task]);
                _observations[task].AsSpan(slot * ObservationSize, ObservationSize).CopyTo(batch.Observations.AsSpan(row * ObservationSize));
                _actions[task].AsSpan(slot * ActionSize, ActionSize).CopyTo(batch.Actions.AsSpan(row * ActionSize));
                batch.Rewards[row] = _rewards[task][slot];
                _nextObservations[task].AsSpan(slot * ObservationSize, ObservationSize).CopyTo(batch.NextObservations.AsSpan(row * ObservationSize));
                batch.Terminated[row] = _terminated[task][slot];
                batch.TaskIds[row] = task;
            }
        }
        return batch;
    }

    /// <summary>Writes the buffer (sizes, ring positions, the stored transitions) for a checkpoint.</summary>
    public void Save(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Magic);
        writer.Write(FormatVersion);
        writer.Write(TaskCount);
        writer.Write(CapacityPerTask);
        writer.Write(ObservationSize);
        writer.Write(ActionSize);
        for (var task = 0; task < TaskCount; task++)
        {
            writer.Write(_count[task]);
            writer.Write(_next[task]);
            var n = _count[task];
            Write(writer, _observations[task].AsSpan(0, n * ObservationSize));
            Write(writer, _actions[task].AsSpan(0, n * ActionSize));
            Write(writer, _rewards[task].AsSpan(0, n));
            Write(writer, _nextObservations[task].AsSpan(0, n * ObservationSize));
            Write(writer, _terminated[task].AsSpan(0, n));
        }
    }

    /// <summary>Reads a buffer written by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">Not a replay buffer, another format version, inconsistent sizes or positions, or truncated (the task is named).</exception>
    public static ReplayBuffer Load(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var task = -1;
        try
        {
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
            {
                throw new InvalidDataException("Not a replay buffer (its magic bytes 'GSRB' are missing).");
            }
            var version = reader.ReadInt32();
            if (version != FormatVersion)
            {
                throw new InvalidDataException($"Replay buffer format version {version}; this build reads version {FormatVersion}.");
            }
            var (taskCount, capacity, observationSize, actionSize) = (reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
            if (taskCount < 1 || capacity < 1 || observationSize < 1 || actionSize < 1)
            {
                throw new InvalidDataException($"Replay buffer sizes out of range: {taskCount} tasks, capacity {capacity}, observation {observationSize}, action {actionSize}.");
            }
            var buffer = new ReplayBuffer(taskCount, capacity, observationSize, actionSize);
            for (task = 0; task < taskCount; task++)
            {
                var (count, next) = (reader.ReadInt32(), reader.ReadInt32());
                if (count < 0 || count > capacity || next < 0 || next >= capacity || (count < capacity && next != count))
                {
                    throw new InvalidDataException($"Replay buffer, task {task}: count {count} and next slot {next} are inconsistent with capacity {capacity}.");
                }
                (buffer._count[task], buffer._next[task]) = (count, next);
                Read(reader, buffer._observations[task].AsSpan(0, count * observationSize));
                Read(reader, buffer._actions[task].AsSpan(0, count * actionSize));
                Read(reader, buffer._rewards[task].AsSpan(0, count));
                Read(reader, buffer._nextObservations[task].AsSpan(0, count * observationSize));
                Read(reader, buffer._terminated[task].AsSpan(0, count));
            }
            return buffer;
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException(task < 0 ? "Replay buffer truncated in its header." : $"Replay buffer truncated in task {task}'s transitions.");
        }
    }

    private float[][] Allocate(int width) => [.. Enumerable.Range(0, TaskCount).Select(_ => new float[CapacityPerTask * width])];

    private int RequireTask(int task) => task >= 0 && task < TaskCount
        ? task
        : throw new ArgumentOutOfRangeException(nameof(task), task, $"Task {task} is not one of the buffer's {TaskCount} tasks.");

    private static void RequireFinite(int task, string what, ReadOnlySpan<float> values, int length)
    {
        if (values.Length != length)
        {
            throw new ArgumentException($"Task {task}: the {what} has {values.Length} entries, expected {length}.", what);
        }
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                throw new ArgumentException($"Task {task}: {what} entry {i} is {values[i].ToString(System.Globalization.CultureInfo.InvariantCulture)}; a replay buffer stores finite numbers only.", what);
            }
        }
    }

    // Raw bytes in the machine's order (little-endian on every platform .NET and libtorch run on here): a million
    // transitions would take seconds one BinaryWriter.Write(float) at a time.
    private static void Write(BinaryWriter writer, ReadOnlySpan<float> values) =>
        writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));

    private static void Read(BinaryReader reader, Span<float> values)
    {
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values);
        while (bytes.Length > 0)
        {
            var read = reader.Read(bytes);
            if (read == 0)
            {
                throw new EndOfStreamException();
            }
            bytes = bytes[read..];
        }
    }
}
