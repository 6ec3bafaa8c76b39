using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Distributed;

/// <summary>
/// The data-parallel <see cref="AggregationStep"/>: <c>zero_grad()</c>, the <see cref="DistributedMultiTaskBackward"/>
/// of this rank's shard (the surgery of the global batch's Jacobian) and <c>step()</c>. Every rank holds a replica of
/// the model and an optimizer created alike; since every rank's <c>.grad</c> receives the same update, the replicas
/// stay identical. Collective: every rank calls <c>Step</c> at the same point.
/// </summary>
public sealed class DistributedAggregationStep : IMultiTaskStep
{
    private readonly DistributedMultiTaskBackward _backward;

    /// <summary>Creates the step; collective (checks that every rank built the same aggregator and model).</summary>
    /// <param name="optimizer">The optimizer over all of the replica's parameters.</param>
    /// <param name="aggregator">The surgery applied to the shared parameters, created alike (same seed) on every rank.</param>
    /// <param name="sharedParameters">The shared parameters; the optimizer's other parameters are task-specific.</param>
    /// <param name="communicator">The ranks that share the global batch.</param>
    /// <param name="reduction">How the Jacobian is reduced across ranks.</param>
    public DistributedAggregationStep(
        optim.Optimizer optimizer, IAggregator aggregator, IEnumerable<Parameter> sharedParameters, MpiCommunicator communicator,
        JacobianReduction reduction = JacobianReduction.ReduceScatter)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(sharedParameters);
        Optimizer = optimizer;
        var shared = sharedParameters.ToArray();
        var sharedHandles = shared.Select(p => p.Handle).ToHashSet();
        _backward = new DistributedMultiTaskBackward(
            aggregator, shared, optimizer.parameters().Where(p => !sharedHandles.Contains(p.Handle)), communicator, reduction);
    }

    /// <inheritdoc/>
    public optim.Optimizer Optimizer { get; }

    /// <summary>The distributed backward that each step runs.</summary>
    public DistributedMultiTaskBackward Backward => _backward;

    /// <summary>Aggregators never need the losses after the step.</summary>
    public bool NeedsLossesAfterStep => false;

    /// <summary>zero_grad, the distributed backward of this rank's shard, step; collective.</summary>
    /// <param name="losses">Each task's mean loss over this rank's shard.</param>
    /// <param name="sharedFeatures">
    /// The trunk's output on this rank's shard, required: its first dimension is the shard's sample count, which the
    /// backward checks to be the same on every rank.
    /// </param>
    /// <param name="lossesAfterStep">Not used by aggregators.</param>
    /// <exception cref="ArgumentException">No shared features; use <see cref="Step(IReadOnlyList{Tensor}, long)"/> for the parameters path.</exception>
    public StepReport Step(IReadOnlyList<Tensor> losses, Tensor? sharedFeatures = null, Func<IReadOnlyList<Tensor>>? lossesAfterStep = null)
    {
        if (sharedFeatures is null)
        {
            throw new ArgumentException(
                "The distributed step takes the shard's sample count from the shared features' first dimension; without features, call Step(losses, shardSize).",
                nameof(sharedFeatures));
        }
        using var scope = NewDisposeScope();
        Optimizer.zero_grad();
        var report = _backward.Backward(losses, sharedFeatures, sharedFeatures.shape[0]);
        Optimizer.step();
        return report;
    }

    /// <summary>zero_grad, the distributed backward of this rank's shard through the parameters path, step; collective.</summary>
    /// <param name="losses">Each task's mean loss over this rank's shard.</param>
    /// <param name="shardSize">The shard's sample count, the same on every rank.</param>
    public StepReport Step(IReadOnlyList<Tensor> losses, long shardSize)
    {
        using var scope = NewDisposeScope();
        Optimizer.zero_grad();
        var report = _backward.Backward(losses, shardSize);
        Optimizer.step();
        return report;
    }

    /// <summary>Aggregators have no epochs.</summary>
    public void EndEpoch()
    {
    }

    /// <summary>Writes the aggregator's state (the same on every rank).</summary>
    public void SaveState(BinaryWriter writer) => (_backward.Aggregator as IStateful)?.SaveState(writer);

    /// <summary>Restores the aggregator's state.</summary>
    public void LoadState(BinaryReader reader) => (_backward.Aggregator as IStateful)?.LoadState(reader);

    /// <summary>Frees the backward's reusable storage (the optimizer is the caller's to dispose).</summary>
    public void Dispose() => _backward.Dispose();
}
