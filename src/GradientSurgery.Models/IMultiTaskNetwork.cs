using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Models;

/// <summary>
/// A network made of a shared trunk and one head per task, the shape that the features path of the
/// multi-task backward (and MGDA-UB) needs: the trunk's output is the shared representation.
/// </summary>
public interface IMultiTaskNetwork
{
    /// <summary>Number of tasks (heads).</summary>
    int TaskCount { get; }

    /// <summary>The trunk's parameters, shared by every task.</summary>
    IEnumerable<Parameter> SharedParameters { get; }

    /// <summary>
    /// The weight of the trunk's last layer with parameters, one of <see cref="SharedParameters"/>: the layer whose
    /// gradient norms GradNorm balances (Chen et al., ICML 2018, apply it to the last shared layer).
    /// </summary>
    Parameter LastSharedLayerWeight { get; }

    /// <summary>
    /// Which rows of a global batch the next forward passes see, for data-parallel training: random layers draw for
    /// the global batch and keep these rows, so that every rank's shard gets what one process would give it.
    /// </summary>
    BatchShard Shard { get; }

    /// <summary>The shared representation of a batch.</summary>
    Tensor Features(Tensor inputs);

    /// <summary>Every head's output for the shared representation.</summary>
    Tensor[] Heads(Tensor features);
}
