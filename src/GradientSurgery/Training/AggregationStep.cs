using GradientSurgery.Aggregation;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// The training step of an aggregator: what a PyTorch user writes by hand around PCGrad, in one call —
/// <c>zero_grad()</c>, the multi-task backward with gradient surgery on the shared parameters, and <c>step()</c>.
/// </summary>
/// <example>
/// <code>
/// using var step = new AggregationStep(torch.optim.Adam(model.parameters()), new PCGrad(), model.Trunk.parameters());
/// var report = step.Step([lossA, lossB]);
/// </code>
/// </example>
public sealed class AggregationStep : IMultiTaskStep
{
    private readonly MultiTaskBackward _backward;

    /// <summary>Creates the step.</summary>
    /// <param name="optimizer">The optimizer over all of the model's parameters.</param>
    /// <param name="aggregator">The surgery applied to the shared parameters (e.g. <see cref="PCGrad"/>).</param>
    /// <param name="sharedParameters">
    /// The shared parameters; every other parameter of <paramref name="optimizer"/> is task-specific and
    /// receives its own task's gradient.
    /// </param>
    /// <param name="taskParameters">
    /// Optionally, task i's own parameters in list i: each receives its owner's gradient only, even when other tasks'
    /// losses read it (see <see cref="MultiTaskBackward"/>).
    /// </param>
    public AggregationStep(
        optim.Optimizer optimizer, IAggregator aggregator, IEnumerable<Parameter> sharedParameters, IReadOnlyList<IEnumerable<Parameter>>? taskParameters = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(sharedParameters);
        Optimizer = optimizer;
        var shared = sharedParameters.ToArray();
        var optimized = optimizer.parameters().ToArray();
        var optimizedHandles = optimized.Select(p => p.Handle).ToHashSet();
        var missing = Array.FindIndex(shared, p => !optimizedHandles.Contains(p.Handle));
        if (missing >= 0)
        {
            throw new ArgumentException(
                $"Shared parameter {missing} (shape [{string.Join(", ", shared[missing].shape)}]) is not among the optimizer's parameters, so it would never be updated.",
                nameof(sharedParameters));
        }
        var sharedHandles = shared.Select(p => p.Handle).ToHashSet();
        _backward = new MultiTaskBackward(aggregator, shared, optimized.Where(p => !sharedHandles.Contains(p.Handle)), taskParameters);
    }

    /// <inheritdoc/>
    public optim.Optimizer Optimizer { get; }

    /// <summary>The aggregator applied to the shared parameters.</summary>
    public IAggregator Aggregator => _backward.Aggregator;

    /// <summary>The multi-task backward used by <see cref="Step"/>, for callers with several shared feature tensors.</summary>
    public MultiTaskBackward Backward => _backward;

    /// <summary>Aggregators never need the losses after the step.</summary>
    public bool NeedsLossesAfterStep => false;

    /// <summary>
    /// zero_grad, the multi-task backward (through the features path when <paramref name="sharedFeatures"/> is the
    /// trunk's output, else through the parameters path), step.
    /// </summary>
    /// <param name="losses">The T scalar task losses.</param>
    /// <param name="sharedFeatures">The trunk's output, or null.</param>
    /// <param name="lossesAfterStep">Not used by aggregators.</param>
    public StepReport Step(IReadOnlyList<Tensor> losses, Tensor? sharedFeatures = null, Func<IReadOnlyList<Tensor>>? lossesAfterStep = null)
    {
        using var scope = NewDisposeScope();
        Optimizer.zero_grad();
        var report = sharedFeatures is null ? _backward.Backward(losses) : _backward.Backward(losses, sharedFeatures);
        Optimizer.step();
        return report;
    }

    /// <summary>Aggregators have no epochs.</summary>
    public void EndEpoch()
    {
    }

    /// <summary>Writes the aggregator's state (nothing for a stateless aggregator).</summary>
    public void SaveState(BinaryWriter writer) => (Aggregator as IStateful)?.SaveState(writer);

    /// <summary>Restores the aggregator's state.</summary>
    public void LoadState(BinaryReader reader) => (Aggregator as IStateful)?.LoadState(reader);

    /// <summary>Frees the multi-task backward's reusable storage (the optimizer is the caller's to dispose).</summary>
    public void Dispose() => _backward.Dispose();
}
