using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// The update of an aggregator (PCGrad, CAGrad, MGDA, …): the T task gradients of the network's parameters from one
/// backward pass (<see cref="SamplePartitionedBackward"/>), combined by the aggregator into <c>.grad</c>, then the step.
/// All of the network's parameters are shared among the tasks (MT-SAC's one network).
/// </summary>
public sealed class AggregatorUpdate : ITaskLossUpdate
{
    private readonly SamplePartitionedBackward _backward;

    /// <summary>Creates the update of <paramref name="network"/>'s <paramref name="parameters"/> (those the optimizer holds).</summary>
    public AggregatorUpdate(optim.Optimizer optimizer, IAggregator aggregator, nn.Module network, IEnumerable<Parameter> parameters)
    {
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _backward = new SamplePartitionedBackward(aggregator, network, parameters);
    }

    /// <inheritdoc/>
    public optim.Optimizer Optimizer { get; }

    /// <summary>The aggregator.</summary>
    public IAggregator Aggregator => _backward.Aggregator;

    /// <inheritdoc/>
    public StepReport Step(Func<Tensor> sampleLosses, Tensor taskIds, int taskCount)
    {
        ArgumentNullException.ThrowIfNull(sampleLosses);
        using var scope = NewDisposeScope();
        Optimizer.zero_grad();
        Tensor perSample;
        using (_backward.Record())
        {
            perSample = sampleLosses();
        }
        var report = _backward.Backward(perSample, taskIds, taskCount);
        Optimizer.step();
        return report;
    }

    /// <summary>The aggregator's state (random generators, moving averages).</summary>
    public void SaveState(BinaryWriter writer) => (Aggregator as IStateful)?.SaveState(writer);

    /// <summary>Restores the aggregator's state.</summary>
    public void LoadState(BinaryReader reader) => (Aggregator as IStateful)?.LoadState(reader);

    /// <summary>Removes the recording hooks.</summary>
    public void Dispose() => _backward.Dispose();
}
