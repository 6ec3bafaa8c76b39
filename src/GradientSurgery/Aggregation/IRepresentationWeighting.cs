namespace GradientSurgery.Aggregation;

/// <summary>
/// An aggregator whose task weights come from the Gramian of the task gradients with respect to the shared
/// REPRESENTATION z (the trunk's output) instead of the shared parameters — the "upper bound" trick of
/// Sener &amp; Koltun (NeurIPS 2018, Section 3.3, MGDA-UB).
/// </summary>
/// <remarks>
/// With the features path of <see cref="Training.MultiTaskBackward"/>, the weights w come from the T×T Gramian
/// of ∂L_i/∂z, and the shared parameters receive Σ_i w_i ∂L_i/∂θ through ONE vector-Jacobian product of the
/// trunk with Σ_i w_i ∂L_i/∂z — no per-task pass through the trunk and no parameter Jacobian. Through the
/// parameters path (or <see cref="IAggregator.Aggregate"/>) the same weighting is applied to whatever
/// Jacobian it is given.
/// </remarks>
public interface IRepresentationWeighting : IAggregator
{
    /// <summary>The task weights from the Gramian of the gradients with respect to the shared representation.</summary>
    double[] RepresentationWeights(double[,] representationGramian);
}
