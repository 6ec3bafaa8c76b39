using GradientSurgery.Aggregation.Solvers;

namespace GradientSurgery.Aggregation;

/// <summary>
/// MGDA-UB, the "upper bound" variant of MGDA (Sener &amp; Koltun, "Multi-Task Learning as Multi-Objective
/// Optimization", NeurIPS 2018, Section 3.3, Eq. 4 and Algorithm 2): the min-norm weights are computed from the
/// gradients of the task losses with respect to the shared REPRESENTATION z (the trunk's output) instead of the
/// shared parameters, which bounds the parameter problem from above (Theorem 1) and needs a single backward
/// through the trunk with Σ_i α_i ∂L_i/∂z.
/// </summary>
/// <remarks>
/// Use it with the features path of <see cref="Training.MultiTaskBackward"/> (or <c>AggregationStep.Step(losses,
/// features)</c>); given a parameter Jacobian directly (parameters path, toy) it is MGDA on that Jacobian. The paper's
/// experiments also normalise the gradients; like <see cref="MGDA"/> this class follows Algorithm 2 without
/// normalisation. Solved exactly by Wolfe's min-norm-point algorithm (see <see cref="MGDA.MinNormWeights"/>).
/// </remarks>
public sealed class MGDAUB : GramianWeighting
{
    /// <summary>True: on the features path the weights come from the Gramian of the representation's gradients.</summary>
    public override bool UsesRepresentationGramian => true;

    /// <summary>
    /// The min-norm weights of the Gramian it is given: the representation's on the features path, the shared
    /// parameters' otherwise (the parameters path and the toy).
    /// </summary>
    protected override double[] ComputeWeights(GramianContext context) => MinimumNormPoint.Weights(context.Gramian.Values);
}
