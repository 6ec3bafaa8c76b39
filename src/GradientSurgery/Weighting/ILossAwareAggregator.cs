using GradientSurgery.Aggregation;
using static TorchSharp.torch;

namespace GradientSurgery.Weighting;

/// <summary>
/// An aggregator that needs the task losses as well as the Jacobian: methods that balance both the loss
/// scales and the gradient magnitudes (e.g. <see cref="DBMTL"/>) cannot be a pure loss weighting, because they
/// look at the per-task gradients, nor a pure aggregator, because they look at the losses.
/// </summary>
/// <remarks>
/// The multi-task backward calls <see cref="Aggregate(Tensor, IReadOnlyList{double})"/> once per step with the
/// Jacobian of the RAW losses (row i = ∇L_i) and their values. <see cref="IAggregator.Aggregate(Tensor)"/>
/// remains available for callers without losses; each implementation documents what it assumes then.
/// </remarks>
public interface ILossAwareAggregator : IAggregator
{
    /// <summary>Aggregates the T×P <paramref name="jacobian"/> of the losses into a P-vector update.</summary>
    /// <param name="jacobian">Row i is the gradient of task i's loss with respect to the P shared parameters.</param>
    /// <param name="losses">The T loss values, in the Jacobian's row order.</param>
    Tensor Aggregate(Tensor jacobian, IReadOnlyList<double> losses);
}
