using GradientSurgery.Diagnostics;
using GradientSurgery.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// Soft actor-critic with automatic entropy tuning (Haarnoja et al. 2018) for T tasks at once, in the variants of the
/// PCGrad paper's reinforcement-learning table: MT-SAC (one network, one-hot task id, one temperature per task),
/// multi-head SAC, one SAC per task, and MT-SAC whose actor and critic task losses go through any method of the
/// catalog (<c>pcgrad</c> is the paper's SAC + PCGrad).
/// </summary>
/// <remarks>
/// <para>
/// One <see cref="Update"/> on a task-balanced batch: (1) the critics regress on the soft Bellman targets of the target
/// critics (clipped double Q); (2) the actor minimises α log π − min Q with a reparameterised action, the critics
/// frozen; (3) each task's temperature follows its own entropy constraint; (4) the target critics move by Polyak
/// averaging. In (1) and (2) each task's loss is the mean over its own samples, and the method turns the T losses
/// into the update: their mean (MT-SAC), an aggregator on their Jacobian from one backward pass or from T
/// (<see cref="AggregatorUpdate"/>, <see cref="SacSettings.TaskGradients"/>), or a loss weighting (<see cref="WeightingUpdate"/>).
/// </para>
/// <para>
/// Deterministic: the networks are initialised from <c>seed</c> and every action noise is drawn from one generator
/// whose state <see cref="Save"/> keeps, with the networks, the optimizers, the temperatures and the methods' states.
/// </para>
/// </remarks>
public sealed class MultiTaskSac : IDisposable
{
    private readonly SquashedGaussianActor _actor;
    private readonly TwinCritic _critic;
    private readonly TwinCritic _targetCritic;
    private readonly Parameter _logTemperature;
    private readonly ITaskLossUpdate _actorUpdate;
    private readonly ITaskLossUpdate _criticUpdate;
    private readonly optim.Optimizer _temperatureOptimizer;
    private readonly Generator _noise;
    private readonly double _targetEntropy;

    /// <summary>Creates the agent.</summary>
    /// <param name="method">
    /// <c>mtsac</c>, <c>mhsac</c>, <c>single</c>, or a method of the catalog applied to MT-SAC (e.g. <c>pcgrad</c>,
    /// <c>cagrad:c=0.4</c>, <c>famo</c>); see <see cref="SacMethod"/>.
    /// </param>
    /// <param name="taskCount">T.</param>
    /// <param name="observationSize">Entries of an observation (without the task's identity).</param>
    /// <param name="actionSize">Entries of an action.</param>
    /// <param name="settings">The hyperparameters.</param>
    /// <param name="seed">Initialises the networks, the action noise and the method's randomness.</param>
    /// <exception cref="ArgumentException">An unknown method or a bad setting.</exception>
    public MultiTaskSac(string method, int taskCount, int observationSize, int actionSize, SacSettings settings, long seed)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(taskCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(observationSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(actionSize);
        Method = SacMethod.Parse(method, seed);
        (TaskCount, ObservationSize, ActionSize, Settings) = (taskCount, observationSize, actionSize, settings);
        _targetEntropy = settings.TargetEntropy ?? -actionSize;
        manual_seed(seed);
        _actor = new SquashedGaussianActor(Method.Sharing, taskCount, observationSize, actionSize, settings.Hidden);
        _critic = new TwinCritic(Method.Sharing, taskCount, observationSize, actionSize, settings.Hidden);
        _targetCritic = new TwinCritic(Method.Sharing, taskCount, observationSize, actionSize, settings.Hidden);
        SacLosses.Polyak(_critic.parameters(), _targetCritic.parameters(), tau: 1);
        foreach (var parameter in _targetCritic.parameters())
        {
            parameter.requires_grad = false;
        }
        _logTemperature = new Parameter(full(taskCount, Math.Log(settings.InitialTemperature)));
        _temperatureOptimizer = optim.Adam([_logTemperature], settings.LearningRate);
        // Separate streams for the actor's and the critic's methods (PCGrad's shuffles, GradDrop's masks).
        _actorUpdate = Method.CreateUpdate(_actor, taskCount, settings.LearningRate, unchecked(seed * 2 + 1), settings.TaskGradients);
        _criticUpdate = Method.CreateUpdate(_critic, taskCount, settings.LearningRate, unchecked(seed * 2 + 2), settings.TaskGradients);
        _noise = new Generator(unchecked((ulong)seed ^ 0x5AC5AC5AC5AC5AC5UL));
    }

    /// <summary>The variant and method.</summary>
    public SacMethod Method { get; }

    /// <summary>T.</summary>
    public int TaskCount { get; }

    /// <summary>Entries of an observation.</summary>
    public int ObservationSize { get; }

    /// <summary>Entries of an action.</summary>
    public int ActionSize { get; }

    /// <summary>The hyperparameters.</summary>
    public SacSettings Settings { get; }

    /// <summary>The policy.</summary>
    public SquashedGaussianActor Actor => _actor;

    /// <summary>The online critics.</summary>
    public TwinCritic Critic => _critic;

    /// <summary>Each task's temperature α.</summary>
    public double[] Temperatures()
    {
        using var scope = NewDisposeScope();
        return _logTemperature.detach().exp().to(ScalarType.Float64).data<double>().ToArray();
    }

    /// <summary>Actions for the rows of <paramref name="observations"/> (row i for task <paramref name="taskIds"/>[i]): sampled, or the mean action tanh(μ) when <paramref name="deterministic"/>.</summary>
    /// <param name="observations">Rows × <see cref="ObservationSize"/>.</param>
    /// <param name="taskIds">Each row's task.</param>
    /// <param name="deterministic">The evaluation action instead of a sample (draws no noise).</param>
    /// <param name="actions">Receives rows × <see cref="ActionSize"/>.</param>
    public void Act(ReadOnlySpan<float> observations, ReadOnlySpan<int> taskIds, bool deterministic, Span<float> actions)
    {
        var rows = taskIds.Length;
        if (observations.Length != rows * ObservationSize || actions.Length != rows * ActionSize)
        {
            throw new ArgumentException($"Expected {rows} rows of {ObservationSize} observation and {ActionSize} action entries; got {observations.Length} and {actions.Length}.");
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = tensor(observations.ToArray(), [rows, ObservationSize]);
        var ids = tensor(taskIds.ToArray().Select(t => (long)t).ToArray());
        var chosen = deterministic ? _actor.call(input, ids) : _actor.Sample(input, ids, _noise).Action;
        chosen.contiguous().data<float>().CopyTo(actions);
    }

    /// <summary>One SAC update on <paramref name="batch"/> (critics, actor, temperatures, target critics).</summary>
    /// <exception cref="ArgumentException">A batch of another layout or task count.</exception>
    /// <exception cref="ArithmeticException">A loss or a gradient became NaN or infinite; the message names the network and the task.</exception>
    public SacUpdateReport Update(ReplayBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var rows = batch.TaskIds.Length;
        if (rows != batch.PerTask * TaskCount || batch.Observations.Length != rows * ObservationSize || batch.Actions.Length != rows * ActionSize)
        {
            throw new ArgumentException($"The batch has {rows} rows of observation {batch.Observations.Length / Math.Max(rows, 1)} and action {batch.Actions.Length / Math.Max(rows, 1)} entries; this agent has {TaskCount} tasks, {ObservationSize} and {ActionSize}.", nameof(batch));
        }
        using var scope = NewDisposeScope();
        var observations = tensor(batch.Observations, [rows, ObservationSize]);
        var actions = tensor(batch.Actions, [rows, ActionSize]);
        var nextObservations = tensor(batch.NextObservations, [rows, ObservationSize]);
        var rewards = tensor(batch.Rewards);
        var terminated = tensor(batch.Terminated);
        var ids = tensor(batch.TaskIds);
        var temperature = _logTemperature.detach().exp().index_select(0, ids);

        // (1) Critics on the soft Bellman targets.
        Tensor targets;
        using (no_grad())
        {
            var (nextActions, nextLogProbability) = _actor.Sample(nextObservations, ids, _noise);
            var (nextQ1, nextQ2) = _targetCritic.call(nextObservations, nextActions, ids);
            targets = SacLosses.CriticTargets(rewards, terminated, nextQ1, nextQ2, nextLogProbability, temperature, Settings.Discount);
        }
        double meanQ = 0;
        var critic = Guarded("critic", () => _criticUpdate.Step(() =>
        {
            var (q1, q2) = _critic.call(observations, actions, ids);
            meanQ = q1.detach().mean().ToDouble();
            return SacLosses.Critic(q1, q2, targets);
        }, ids, TaskCount));

        // (2) Actor, through frozen critics: the same noise if a method recomputes the losses after its step.
        var noise = randn([rows, ActionSize], generator: _noise);
        // Kept from the first evaluation of the actor's losses (a method may evaluate them again after its step).
        float[]? logProbability = null;
        StepReport actor;
        SetRequiresGrad(_critic, false);
        try
        {
            actor = Guarded("actor", () => _actorUpdate.Step(() =>
            {
                var (sampled, logPi) = _actor.Sample(observations, ids, noise);
                logProbability ??= logPi.detach().contiguous().data<float>().ToArray();
                var (q1, q2) = _critic.call(observations, sampled, ids);
                return SacLosses.Actor(logPi, q1, q2, temperature);
            }, ids, TaskCount));
        }
        finally
        {
            SetRequiresGrad(_critic, true);
        }

        // (3) Each task's temperature toward its entropy target (its own samples only; the sum keeps the tasks apart).
        _temperatureOptimizer.zero_grad();
        var temperatureLoss = TaskMeans.Of(SacLosses.Temperature(_logTemperature.index_select(0, ids), tensor(logProbability!), _targetEntropy), ids, TaskCount).sum();
        temperatureLoss.backward();
        _temperatureOptimizer.step();

        // (4) Target critics.
        SacLosses.Polyak(_critic.parameters(), _targetCritic.parameters(), Settings.Tau);
        return new SacUpdateReport(critic.Losses, actor.Losses, Temperatures(), meanQ, critic.Conflicts, actor.Conflicts, critic.Timings, actor.Timings);
    }

    /// <summary>Writes everything an exact continuation needs: networks, target critics, temperatures, optimizers, the methods' states and the noise generator.</summary>
    public void Save(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _actor.save(writer);
        _critic.save(writer);
        _targetCritic.save(writer);
        WriteValues(writer, _logTemperature);
        foreach (var optimizer in new[] { _actorUpdate.Optimizer, _criticUpdate.Optimizer, _temperatureOptimizer })
        {
            ((OptimizerHelper)optimizer).save_state_dict(writer);
        }
        _actorUpdate.SaveState(writer);
        _criticUpdate.SaveState(writer);
        using var state = _noise.get_state();
        var bytes = state.data<byte>().ToArray();
        writer.Write(bytes.Length);
        writer.Write(bytes);
    }

    /// <summary>Restores what <see cref="Save"/> wrote, for an agent built with the same method, sizes and settings.</summary>
    /// <exception cref="InvalidDataException">The data does not fit this agent.</exception>
    public void Load(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        try
        {
            _actor.load(reader);
            _critic.load(reader);
            _targetCritic.load(reader);
            ReadValues(reader, _logTemperature);
            foreach (var optimizer in new[] { _actorUpdate.Optimizer, _criticUpdate.Optimizer, _temperatureOptimizer })
            {
                ((OptimizerHelper)optimizer).load_state_dict(reader);
            }
            _actorUpdate.LoadState(reader);
            _criticUpdate.LoadState(reader);
            var bytes = reader.ReadBytes(reader.ReadInt32());
            using var state = tensor(bytes, dtype: ScalarType.Byte);
            _noise.set_state(state);
        }
        catch (Exception wrong) when (wrong is ArgumentException or EndOfStreamException or InvalidOperationException)
        {
            throw new InvalidDataException($"The saved agent does not fit this {Method.Name} agent ({TaskCount} tasks, observation {ObservationSize}, action {ActionSize}, hidden {string.Join("-", Settings.Hidden)}): {wrong.Message}", wrong);
        }
    }

    /// <summary>Frees the networks, the optimizers' hooks and the generator.</summary>
    public void Dispose()
    {
        _actorUpdate.Dispose();
        _criticUpdate.Dispose();
        _actor.Dispose();
        _critic.Dispose();
        _targetCritic.Dispose();
        _logTemperature.Dispose();
        _noise.Dispose();
    }

    private static StepReport Guarded(string network, Func<StepReport> step)
    {
        try
        {
            return step();
        }
        catch (ArithmeticException diverged)
        {
            throw new ArithmeticException($"The {network} update failed: {diverged.Message}", diverged);
        }
    }

    private static void SetRequiresGrad(nn.Module module, bool value)
    {
        foreach (var parameter in module.parameters())
        {
            parameter.requires_grad = value;
        }
    }

    private static void WriteValues(BinaryWriter writer, Tensor values)
    {
        using var scope = NewDisposeScope();
        var data = values.detach().to(ScalarType.Float32).contiguous().data<float>().ToArray();
        writer.Write(data.Length);
        foreach (var value in data)
        {
            writer.Write(value);
        }
    }

    private static void ReadValues(BinaryReader reader, Parameter into)
    {
        var count = reader.ReadInt32();
        if (count != into.numel())
        {
            throw new InvalidOperationException($"{count} temperatures saved, {into.numel()} expected.");
        }
        var values = new float[count];
        for (var k = 0; k < count; k++)
        {
            values[k] = reader.ReadSingle();
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        into.copy_(tensor(values));
    }
}

/// <summary>What one update did.</summary>
/// <param name="CriticLosses">Each task's critic loss (mean over its samples) before the update.</param>
/// <param name="ActorLosses">Each task's actor loss before the update.</param>
/// <param name="Temperatures">Each task's α after the update.</param>
/// <param name="MeanQ">The mean of the first critic's values on the batch.</param>
/// <param name="CriticConflicts">The conflicts of the critic's task gradients, where the method forms them (aggregators); else null.</param>
/// <param name="ActorConflicts">Likewise for the actor.</param>
/// <param name="CriticTimings">Where the critic step's time went.</param>
/// <param name="ActorTimings">Where the actor step's time went.</param>
public sealed record SacUpdateReport(
    double[] CriticLosses, double[] ActorLosses, double[] Temperatures, double MeanQ,
    ConflictReport? CriticConflicts, ConflictReport? ActorConflicts, StepTimings CriticTimings, StepTimings ActorTimings);
