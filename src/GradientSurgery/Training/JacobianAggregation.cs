using GradientSurgery.Aggregation;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// The step every Jacobian path shares once the T×P task Jacobian and its Gramian are built and checked: the
/// aggregator's weights or update, and the shape check of an update the aggregator computed itself.
/// </summary>
internal static class JacobianAggregation
{
    /// <summary>The update (a P-vector) and, when the aggregator is a Gramian weighting, its weights.</summary>
    /// <param name="aggregator">The method.</param>
    /// <param name="jacobian">The T×P task Jacobian, already checked by <see cref="GradientChecks.FiniteGramian"/>.</param>
    /// <param name="gramian">Its Gramian, from that check.</param>
    /// <param name="lossValues">Each task's loss value, for weightings that use the losses.</param>
    /// <exception cref="InvalidOperationException">The aggregator returned an update of the wrong shape.</exception>
    public static (Tensor Update, double[]? Weights) Apply(IAggregator aggregator, Tensor jacobian, double[,] gramian, double[] lossValues)
    {
        if (aggregator is GramianWeighting weighting)
        {
            var weights = weighting.Weights(new GramianContext(CheckedGramian.From(gramian), lossValues, GradientScope.SharedParameters));
            return (Jacobian.Combine(jacobian, weights), weights);
        }
        var update = aggregator.Aggregate(jacobian);
        if (update.dim() != 1 || update.shape[0] != jacobian.shape[1])
        {
            throw new InvalidOperationException(
                $"{aggregator.GetType().Name} returned shape {Jacobian.ShapeText(update)}; expected [{jacobian.shape[1]}].");
        }
        return (update, null);
    }
}
