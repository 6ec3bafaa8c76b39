using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace GradientSurgery.Environments;

/// <summary>
/// Several environments (one or more per task) stepped together, in parallel on the machine's cores: the batch a
/// multi-task agent collects from. An environment whose episode ends is reset at once (Gymnasium's "same-step"
/// autoreset): its row of <see cref="Observations"/> then holds the new episode's first observation and
/// <see cref="FinalObservations"/> the last one of the episode that ended, which is what a replay buffer stores as
/// the transition's next state.
/// </summary>
/// <remarks>
/// Deterministic given the seed, whatever the thread count: environment i draws its episodes' seeds from its own
/// generator, itself seeded from the vector's seed. The vector owns the environments and disposes them.
/// </remarks>
public sealed class VectorEnvironment : IDisposable
{
    private readonly IEnvironment[] _environments;
    private readonly SplitMix64[] _episodeSeeds;
    private readonly int[] _tasks;
    private readonly double[] _runningReturns;
    private readonly bool[] _runningSuccesses;
    private readonly ulong[] _currentEpisodeSeeds;
    private readonly float[][] _episodeActions;
    private readonly int[] _episodeSteps;
    private readonly int _parallelism;
    private bool _started;

    /// <summary>Takes ownership of <paramref name="environments"/>; <paramref name="tasks"/>[i] is environment i's task index.</summary>
    /// <param name="environments">The environments, all with one observation size and one action size.</param>
    /// <param name="tasks">Each environment's task index (for the agent's task identity and per-task statistics).</param>
    /// <param name="seed">Seeds every episode of every environment.</param>
    /// <param name="maxParallelism">Threads stepping the environments; the processor count by default, 1 to step them in order on the caller's thread.</param>
    /// <exception cref="ArgumentException">No environment, mismatched sizes, or a task list of another length.</exception>
    public VectorEnvironment(IReadOnlyList<IEnvironment> environments, IReadOnlyList<int> tasks, ulong seed, int? maxParallelism = null)
    {
        ArgumentNullException.ThrowIfNull(environments);
        ArgumentNullException.ThrowIfNull(tasks);
        if (environments.Count == 0)
        {
            throw new ArgumentException("A vector needs at least one environment.", nameof(environments));
        }
        if (tasks.Count != environments.Count)
        {
            throw new ArgumentException($"{environments.Count} environments but {tasks.Count} task indices.", nameof(tasks));
        }
        var first = environments[0].Spec;
        for (var i = 1; i < environments.Count; i++)
        {
            var spec = environments[i].Spec;
            if (spec.ObservationSize != first.ObservationSize || spec.ActionSize != first.ActionSize)
            {
                throw new ArgumentException(
                    $"Environment {i} (task {spec.TaskName}) has observation size {spec.ObservationSize} and action size {spec.ActionSize}, " +
                    $"but environment 0 (task {first.TaskName}) has {first.ObservationSize} and {first.ActionSize}; one policy needs one layout.", nameof(environments));
            }
        }
        _environments = [.. environments];
        _tasks = [.. tasks];
        var master = new SplitMix64(seed);
        _episodeSeeds = [.. _environments.Select(_ => new SplitMix64(master.NextUInt64()))];
        (ObservationSize, ActionSize) = (first.ObservationSize, first.ActionSize);
        Observations = new float[Count * ObservationSize];
        FinalObservations = new float[Count * ObservationSize];
        Rewards = new double[Count];
        Terminated = new bool[Count];
        Truncated = new bool[Count];
        Success = new bool[Count];
        EpisodeReturns = new double[Count];
        EpisodeSuccesses = new bool[Count];
        _runningReturns = new double[Count];
        _runningSuccesses = new bool[Count];
        _currentEpisodeSeeds = new ulong[Count];
        _episodeActions = [.. _environments.Select(e => new float[e.Spec.EpisodeLength * ActionSize])];
        _episodeSteps = new int[Count];
        _parallelism = maxParallelism ?? Environment.ProcessorCount;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_parallelism, nameof(maxParallelism));
    }

    /// <summary>Number of environments.</summary>
    public int Count => _environments.Length;

    /// <summary>Entries of one observation.</summary>
    public int ObservationSize { get; }

    /// <summary>Entries of one action.</summary>
    public int ActionSize { get; }

    /// <summary>The environments, in row order.</summary>
    public IReadOnlyList<IEnvironment> Environments => _environments;

    /// <summary>Environment i's task index.</summary>
    public IReadOnlyList<int> Tasks => _tasks;

    /// <summary>The current observations, row i for environment i (Count × <see cref="ObservationSize"/>).</summary>
    public float[] Observations { get; }

    /// <summary>After <see cref="Step"/>: for a row whose episode ended, its last observation (the row of <see cref="Observations"/> has been reset).</summary>
    public float[] FinalObservations { get; }

    /// <summary>The last step's rewards.</summary>
    public double[] Rewards { get; }

    /// <summary>The last step's terminations.</summary>
    public bool[] Terminated { get; }

    /// <summary>The last step's truncations (episode length reached).</summary>
    public bool[] Truncated { get; }

    /// <summary>Whether each task's success criterion held after the last step.</summary>
    public bool[] Success { get; }

    /// <summary>For a row whose episode ended at the last step: that episode's summed reward.</summary>
    public double[] EpisodeReturns { get; }

    /// <summary>For a row whose episode ended at the last step: whether it succeeded at any step (Meta-World's criterion).</summary>
    public bool[] EpisodeSuccesses { get; }

    /// <summary>Whether row <paramref name="i"/>'s episode ended at the last step.</summary>
    public bool Done(int i) => Terminated[i] || Truncated[i];

    /// <summary>Starts an episode in every environment.</summary>
    public void Reset()
    {
        Run(i => StartEpisode(i));
        Array.Clear(Rewards);
        Array.Clear(Terminated);
        Array.Clear(Truncated);
        Array.Clear(Success);
        _started = true;
    }

    /// <summary>Steps every environment with its row of <paramref name="actions"/> (Count × <see cref="ActionSize"/>), resetting those whose episode ends.</summary>
    /// <exception cref="ArgumentException">Wrong length, or a non-finite action (the message names the task and step).</exception>
    /// <exception cref="InvalidOperationException"><see cref="Reset"/> was not called.</exception>
    public void Step(float[] actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        if (!_started)
        {
            throw new InvalidOperationException("Call Reset before the first Step.");
        }
        if (actions.Length != Count * ActionSize)
        {
            throw new ArgumentException($"Expected {Count}×{ActionSize} = {Count * ActionSize} action entries, got {actions.Length}.", nameof(actions));
        }
        Run(i =>
        {
            var row = Observations.AsSpan(i * ObservationSize, ObservationSize);
            var action = actions.AsSpan(i * ActionSize, ActionSize);
            var result = _environments[i].Step(action, row);
            action.CopyTo(_episodeActions[i].AsSpan(_episodeSteps[i]++ * ActionSize));
            (Rewards[i], Terminated[i], Truncated[i], Success[i]) = (result.Reward, result.Terminated, result.Truncated, result.Success);
            _runningReturns[i] += result.Reward;
            _runningSuccesses[i] |= result.Success;
            if (result.Done)
            {
                row.CopyTo(FinalObservations.AsSpan(i * ObservationSize, ObservationSize));
                (EpisodeReturns[i], EpisodeSuccesses[i]) = (_runningReturns[i], _runningSuccesses[i]);
                StartEpisode(i);
            }
        });
    }

    /// <summary>Disposes every environment.</summary>
    public void Dispose()
    {
        foreach (var environment in _environments)
        {
            environment.Dispose();
        }
    }

    /// <summary>
    /// Writes where every environment is: its episode-seed generator, the seed of its running episode and the actions
    /// taken in it, so that <see cref="LoadState"/> puts each environment back into the same state, bit for bit, on a
    /// vector built the same way (an environment's state is a function of its seed and actions).
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="Reset"/> was not called.</exception>
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (!_started)
        {
            throw new InvalidOperationException("Call Reset before saving the vector's state.");
        }
        writer.Write(Count);
        for (var i = 0; i < Count; i++)
        {
            writer.Write(_environments[i].Spec.TaskName);
            writer.Write(_episodeSeeds[i].State);
            writer.Write(_currentEpisodeSeeds[i]);
            writer.Write(_episodeSteps[i]);
            foreach (var value in _episodeActions[i].AsSpan(0, _episodeSteps[i] * ActionSize))
            {
                writer.Write(value);
            }
        }
    }

    /// <summary>Restores what <see cref="SaveState"/> wrote: each environment is reset with its episode's seed and replays that episode's actions.</summary>
    /// <exception cref="InvalidDataException">The state belongs to a vector of other environments, or is malformed.</exception>
    public void LoadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var count = reader.ReadInt32();
        if (count != Count)
        {
            throw new InvalidDataException($"The saved vector has {count} environments; this one has {Count}.");
        }
        for (var i = 0; i < Count; i++)
        {
            var task = reader.ReadString();
            if (task != _environments[i].Spec.TaskName)
            {
                throw new InvalidDataException($"Saved environment {i} is task {task}; this vector's is {_environments[i].Spec.TaskName}.");
            }
            _episodeSeeds[i].State = reader.ReadUInt64();
            var seed = reader.ReadUInt64();
            var steps = reader.ReadInt32();
            if (steps < 0 || steps >= _environments[i].Spec.EpisodeLength)
            {
                throw new InvalidDataException($"Saved environment {i} ({task}) is at step {steps} of an episode of {_environments[i].Spec.EpisodeLength}.");
            }
            var row = Observations.AsSpan(i * ObservationSize, ObservationSize);
            _environments[i].Reset(seed, row);
            (_currentEpisodeSeeds[i], _runningReturns[i], _runningSuccesses[i]) = (seed, 0, false);
            var history = _episodeActions[i];
            for (var k = 0; k < steps * ActionSize; k++)
            {
                history[k] = reader.ReadSingle();
            }
            for (var step = 0; step < steps; step++)
            {
                var result = _environments[i].Step(history.AsSpan(step * ActionSize, ActionSize), row);
                if (result.Done)
                {
                    throw new InvalidDataException($"Saved environment {i} ({task}): its episode ends at replayed step {step}, before the saved position {steps}.");
                }
                _runningReturns[i] += result.Reward;
                _runningSuccesses[i] |= result.Success;
            }
            _episodeSteps[i] = steps;
        }
        Array.Clear(Rewards);
        Array.Clear(Terminated);
        Array.Clear(Truncated);
        Array.Clear(Success);
        _started = true;
    }

    private void StartEpisode(int i)
    {
        _currentEpisodeSeeds[i] = _episodeSeeds[i].NextUInt64();
        _environments[i].Reset(_currentEpisodeSeeds[i], Observations.AsSpan(i * ObservationSize, ObservationSize));
        (_runningReturns[i], _runningSuccesses[i], _episodeSteps[i]) = (0, false, 0);
    }

    private void Run(Action<int> body)
    {
        if (_parallelism == 1 || Count == 1)
        {
            for (var i = 0; i < Count; i++)
            {
                body(i);
            }
            return;
        }
        // Contiguous ranges, one per thread: a point-mass step is far cheaper than scheduling a work item per environment.
        var ranges = Partitioner.Create(0, Count, (Count + _parallelism - 1) / _parallelism);
        try
        {
            Parallel.ForEach(ranges, new ParallelOptions { MaxDegreeOfParallelism = _parallelism }, range =>
            {
                for (var i = range.Item1; i < range.Item2; i++)
                {
                    body(i);
                }
            });
        }
        catch (AggregateException failure) when (failure.InnerExceptions.Count >= 1)
        {
            // The environment's own message (task, step) rather than "One or more errors occurred".
            ExceptionDispatchInfo.Capture(failure.InnerExceptions[0]).Throw();
        }
    }
}
