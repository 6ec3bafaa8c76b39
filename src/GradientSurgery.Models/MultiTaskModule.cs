using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// The base of the project's multi-task architectures: a TorchSharp module whose <c>forward</c> gives every task's
/// output, and an <see cref="IMultiTaskNetwork"/>, so that one trainer type takes any of them
/// (<see cref="Architectures"/>).
/// </summary>
public abstract class MultiTaskModule : Module<Tensor, Tensor[]>, IMultiTaskNetwork
{
    /// <summary>Names the module (the name appears in TorchSharp's module descriptions).</summary>
    protected MultiTaskModule(string name) : base(name)
    {
    }

    /// <inheritdoc />
    public abstract int TaskCount { get; }

    /// <inheritdoc />
    public abstract IEnumerable<Parameter> SharedParameters { get; }

    /// <inheritdoc />
    public abstract IReadOnlyList<IEnumerable<Parameter>> TaskParameters { get; }

    /// <inheritdoc />
    public abstract Parameter LastSharedLayerWeight { get; }

    /// <inheritdoc />
    public abstract BatchShard Shard { get; }

    /// <inheritdoc />
    public abstract MultiTaskOutput Forward(Tensor inputs);

    /// <summary>Every task's output (<see cref="Forward"/> without the shared features).</summary>
    public override Tensor[] forward(Tensor inputs) => Forward(inputs).Outputs;
}
