using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Weighting;

/// <summary>
/// What a loss weighting is built for: the training loop's task count, where and in which dtype its learnable
/// weights live, and (for GradNorm) the shared layer whose gradient norms it balances.
/// </summary>
/// <param name="TaskCount">The number of tasks T.</param>
/// <param name="Device">The device of the losses (and of any learnable weights); CPU when null.</param>
/// <param name="Dtype">The dtype of learnable weights (the model's dtype).</param>
/// <param name="SharedLayerWeight">
/// The weight W of the last shared layer, for GradNorm (Chen et al. 2018 balance ‖∇_W w_i L_i‖ on that layer); null
/// when the training loop has none to offer, in which case GradNorm cannot be created.
/// </param>
/// <param name="Likelihood">
/// The likelihood that matches the tasks' losses, for uncertainty weighting: <see cref="UncertaintyTaskKind.Classification"/>
/// for cross-entropy losses (Kendall et al., Eq. 10), <see cref="UncertaintyTaskKind.Regression"/> otherwise (Eq. 7). The
/// specification's <c>likelihood</c> argument overrides it.
/// </param>
public sealed record LossWeightingContext(
    int TaskCount,
    Device? Device = null,
    ScalarType Dtype = ScalarType.Float32,
    Parameter? SharedLayerWeight = null,
    UncertaintyTaskKind Likelihood = UncertaintyTaskKind.Regression);
