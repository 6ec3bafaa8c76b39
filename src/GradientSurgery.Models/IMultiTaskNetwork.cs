using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Models;

/// <summary>
/// A multi-task network as the training loop and the surgery see it: which parameters every task shares (they take
/// part in the surgery) and which belong to one task (they receive that task's gradient only), and one forward pass
/// that gives every task's output and, where the architecture has one, the shared representation that the cheaper
/// features path of the multi-task backward (and MGDA-UB) differentiates through.
/// </summary>
public interface IMultiTaskNetwork
{
    /// <summary>Number of tasks (outputs).</summary>
    int TaskCount { get; }

    /// <summary>The parameters shared by the tasks: the surgery's parameters.</summary>
    IEnumerable<Parameter> SharedParameters { get; }

    /// <summary>
    /// Task i's own parameters in entry i. Every trainable parameter is either shared or in exactly one of these. A
    /// task's own parameter receives only its task's gradient, even where another task's output reads it (a cross-stitch
    /// column).
    /// </summary>
    IReadOnlyList<IEnumerable<Parameter>> TaskParameters { get; }

    /// <summary>
    /// The weight of the last shared layer with parameters, one of <see cref="SharedParameters"/>: the layer whose
    /// gradient norms GradNorm balances (Chen et al., ICML 2018, apply it to the last shared layer).
    /// </summary>
    Parameter LastSharedLayerWeight { get; }

    /// <summary>
    /// Which rows of a global batch the next forward passes see, for data-parallel training: random layers draw for
    /// the global batch and keep these rows, so that every rank's shard gets what one process would give it.
    /// </summary>
    BatchShard Shard { get; }

    /// <summary>Every task's output for a batch, and the shared representation where the architecture has one.</summary>
    MultiTaskOutput Forward(Tensor inputs);
}
