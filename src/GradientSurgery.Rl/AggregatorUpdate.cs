using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// The update of an aggregator (PCGrad, CAGrad, MGDA, …): the T task gradients of the network's parameters, combined by
/// the aggregator into <c>.grad</c>, then the step. The task gradients come from one backward pass
/// (<see cref="SamplePartitionedBackward"/>, <see cref="TaskGradients.OnePass"/>) or from one pass per task mean
/// (<see cref="MultiTaskBackward"/>, <see cref="TaskGradients.TaskPasses"/>). All of the network's parameters are shared
/// among the tasks (MT-SAC's one network).
/// </summary>
public sealed class AggregatorUpdate : ITaskLossUpdate
{
    // Exactly one of the two is set, by the choice of task gradients.
    private readonly SamplePartitionedBackward? _onePass;
    private readonly MultiTaskBackward? _taskPasses;

    /// <summary>Creates the update of <paramref name="network"/>'s <paramref name="parameters"/> (those the optimizer holds).</summary>
    /// <param name="optimizer">The optimizer over <paramref name="parameters"/>.</param>
    /// <param name="aggregator">Combines the task Jacobian into one update; created once and reused.</param>
    /// <param name="network">The network (its Linear layers are recorded for the one-pass route).</param>
    /// <param name="parameters">The parameters that receive the update.</param>
    /// <param name="taskGradients">How the task gradients are computed.</param>
    public AggregatorUpdate(optim.Optimizer optimizer, IAggregator aggregator, nn.Module network, IEnumerable<Parameter> parameters, TaskGradients taskGradients = TaskGradients.OnePass)
    {
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        TaskGradients = taskGradients;
        switch (taskGradients)
        {
            case TaskGradients.OnePass:
                _onePass = new SamplePartitionedBackward(aggregator, network, parameters);
                break;
            case TaskGradients.TaskPasses:
                _taskPasses = new MultiTaskBackward(aggregator, parameters, []);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(taskGradients), taskGradients, "Unknown way of computing the task gradients.");
        }
    }

    /// <inheritdoc/>
    public optim.Optimizer Optimizer { get; }

    /// <summary>How the task gradients are computed.</summary>
    public TaskGradients TaskGradients { get; }

    /// <summary>The aggregator.</summary>
    public IAggregator Aggregator => _onePass?.Aggregator ?? _taskPasses!.Aggregator;

    /// <inheritdoc/>
    public StepReport Step(Func<Tensor> sampleLosses, Tensor taskIds, int taskCount)
    {
        ArgumentNullException.ThrowIfNull(sampleLosses);
        using var scope = NewDisposeScope();
        Optimizer.zero_grad();
        StepReport report;
        if (_onePass is { } onePass)
        {
            Tensor perSample;
            using (onePass.Record())
            {
                perSample = sampleLosses();
            }
            report = onePass.Backward(perSample, taskIds, taskCount);
        }
        else
        {
            report = _taskPasses!.Backward(TaskMeans.List(sampleLosses(), taskIds, taskCount));
        }
        Optimizer.step();
        return report;
    }

    /// <summary>The aggregator's state (random generators, moving averages).</summary>
    public void SaveState(BinaryWriter writer) => (Aggregator as IStateful)?.SaveState(writer);

    /// <summary>Restores the aggregator's state.</summary>
    public void LoadState(BinaryReader reader) => (Aggregator as IStateful)?.LoadState(reader);

    /// <summary>Removes the recording hooks (one pass) or frees the Jacobian's storage (task passes).</summary>
    public void Dispose()
    {
        _onePass?.Dispose();
        _taskPasses?.Dispose();
    }
}
