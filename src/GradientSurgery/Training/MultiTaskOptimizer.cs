using GradientSurgery.Aggregation;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// Wraps a TorchSharp optimizer so that one call does what a PyTorch user writes by hand around PCGrad:
/// <c>zero_grad()</c>, the multi-task backward with gradient surgery, and <c>step()</c>.
/// </summary>
/// <example>
/// <code>
/// var optimizer = new MultiTaskOptimizer(torch.optim.Adam(model.parameters()), new PCGrad(), model.Trunk.parameters());
/// var report = optimizer.Step([lossA, lossB]);
/// </code>
/// </example>
public sealed class MultiTaskOptimizer : IDisposable
{
    private readonly MultiTaskBackward _backward;

    /// <summary>Creates the wrapper.</summary>
    /// <param name="optimizer">The optimizer over all of the model's parameters.</param>
    /// <param name="aggregator">The surgery applied to the shared parameters (e.g. <see cref="PCGrad"/>).</param>
    /// <param name="sharedParameters">
    /// The shared parameters; every other parameter of <paramref name="optimizer"/> is task-specific and
    /// receives its own task's gradient.
    /// </param>
    public MultiTaskOptimizer(optim.Optimizer optimizer, IAggregator aggregator, IEnumerable<Parameter> sharedParameters)
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
        _backward = new MultiTaskBackward(aggregator, shared, optimized.Where(p => !sharedHandles.Contains(p.Handle)));
    }

    /// <summary>The wrapped optimizer.</summary>
    public optim.Optimizer Optimizer { get; }

    /// <summary>The multi-task backward used by <see cref="Step(IReadOnlyList{Tensor})"/>.</summary>
    public MultiTaskBackward Backward => _backward;

    /// <summary>zero_grad, multi-task backward through the parameters path, step.</summary>
    public StepReport Step(IReadOnlyList<Tensor> losses) => Run(() => _backward.Backward(losses));

    /// <summary>zero_grad, multi-task backward through the features path (<paramref name="sharedFeatures"/> = the trunk's output), step.</summary>
    public StepReport Step(IReadOnlyList<Tensor> losses, Tensor sharedFeatures) => Run(() => _backward.Backward(losses, sharedFeatures));

    /// <summary>Frees the multi-task backward's reusable storage (the optimizer is the caller's to dispose).</summary>
    public void Dispose() => _backward.Dispose();

    private StepReport Run(Func<StepReport> backward)
    {
        using var scope = NewDisposeScope();
        Optimizer.zero_grad();
        var report = backward();
        Optimizer.step();
        return report;
    }
}
