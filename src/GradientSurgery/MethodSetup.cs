using GradientSurgery.Weighting;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery;

/// <summary>What <see cref="MethodCatalog.CreateStep"/> needs to know about a model to build a training step for any method.</summary>
/// <param name="Parameters">All of the model's trainable parameters.</param>
/// <param name="SharedParameters">The parameters every task depends on (the trunk); the rest are task-specific.</param>
/// <param name="TaskCount">The number of tasks T.</param>
/// <param name="CreateOptimizer">
/// Builds the optimizer over the parameters it is given: the model's, plus a loss weighting's learnable weights.
/// </param>
/// <param name="SharedLayerWeight">The weight of the last shared layer (GradNorm's layer); null when the model offers none.</param>
/// <param name="Likelihood">The likelihood of the tasks' losses, for uncertainty weighting.</param>
/// <param name="TaskParameters">
/// Optionally, each task's own parameters (list i for task i): they receive their owner's gradient only, with every
/// method, even where other tasks' losses read them (a cross-stitch column). Needed only for such models; without
/// it a task-specific parameter that two tasks reach is refused by aggregators and gets every task's gradient from a
/// loss weighting's one backward.
/// </param>
public sealed record MethodSetup(
    IEnumerable<Parameter> Parameters,
    IEnumerable<Parameter> SharedParameters,
    int TaskCount,
    Func<IEnumerable<Parameter>, optim.Optimizer> CreateOptimizer,
    Parameter? SharedLayerWeight = null,
    UncertaintyTaskKind Likelihood = UncertaintyTaskKind.Regression,
    IReadOnlyList<IEnumerable<Parameter>>? TaskParameters = null)
{
    /// <summary>The context a loss weighting is built for: the shared parameters' device and dtype.</summary>
    public LossWeightingContext LossWeightingContext()
    {
        var first = SharedParameters.FirstOrDefault()
            ?? throw new ArgumentException("At least one shared parameter is needed.", nameof(SharedParameters));
        return new LossWeightingContext(TaskCount, first.device, first.dtype, SharedLayerWeight, Likelihood);
    }
}
