using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// An aggregator whose update is a linear combination of the task gradients, wᵀJ, with weights w that depend only
/// on the Gramian G = J Jᵀ (T×T, float64) and, for some methods, the task losses. Derive from it to add a method:
/// override <see cref="ComputeWeights"/>; the Gramian arrives checked, and <see cref="IAggregator.Aggregate"/>,
/// the weight checks and the multi-task backward's use of the Gramian come with the base class.
/// </summary>
/// <remarks>
/// This split (as in TorchJD's Aggregator/Weighting) is what makes the surgery cheap: the T×T problem is solved in
/// float64 on the CPU, and the P-dimensional work is one matrix product for G and one matrix-vector product for the
/// update. The multi-task backward computes G once, reports the weights, and reuses G for the conflict diagnostics.
/// </remarks>
public abstract class GramianWeighting : IAggregator
{
    /// <summary>
    /// Whether the weights should come from the Gramian of the gradients with respect to the shared
    /// REPRESENTATION z (the trunk's output) when the multi-task backward runs on the features path — the "upper
    /// bound" of Sener &amp; Koltun (NeurIPS 2018, Section 3.3, MGDA-UB). The shared parameters then receive
    /// Σ_i w_i ∂L_i/∂θ through ONE vector-Jacobian product of the trunk with Σ_i w_i ∂L_i/∂z: no per-task pass
    /// through the trunk and no parameter Jacobian. On the parameters path (and in <see cref="Aggregate"/>) the
    /// weights come from whatever Jacobian is given. False unless a method says otherwise.
    /// </summary>
    public virtual bool UsesRepresentationGramian => false;

    /// <summary>The update wᵀJ: a P-vector of the Jacobian's dtype and device.</summary>
    /// <remarks>Methods whose weights do not read the Gramian override this to skip computing it.</remarks>
    public virtual Tensor Aggregate(Tensor jacobian) => Jacobian.Combine(jacobian, Weights(Jacobian.Gramian(jacobian)));

    /// <summary>The weights w (length T, update Σ_j w_j g_j) of a Gramian given as an array; the task losses are not available.</summary>
    /// <param name="gramian">The T×T matrix G with G[i, j] = g_i · g_j; it is checked first (see <see cref="CheckedGramian"/>).</param>
    /// <exception cref="ArgumentException">The matrix cannot be a Gramian: it is not square, not finite or not symmetric, has a negative diagonal entry, or has an entry with |G_ij| &gt; √(G_ii G_jj).</exception>
    public double[] Weights(double[,] gramian) => Weights(new GramianContext(CheckedGramian.From(gramian)));

    /// <summary>The weights w (length T, update Σ_j w_j g_j).</summary>
    /// <exception cref="InvalidOperationException">The method returned the wrong number of weights or a non-finite one (a bug in the method).</exception>
    public double[] Weights(GramianContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(context.Gramian, nameof(context));
        var taskCount = context.Gramian.TaskCount;
        if (context.Losses is { } losses && losses.Count != taskCount)
        {
            throw new ArgumentException($"Expected {taskCount} losses (one per task), got {losses.Count}.", nameof(context));
        }
        var weights = ComputeWeights(context);
        if (weights is null || weights.Length != taskCount)
        {
            throw new InvalidOperationException($"{GetType().Name} returned {weights?.Length.ToString() ?? "no"} weights for {taskCount} tasks.");
        }
        for (var i = 0; i < weights.Length; i++)
        {
            if (!double.IsFinite(weights[i]))
            {
                throw new InvalidOperationException($"{GetType().Name} returned weight {weights[i]} for task {i}.");
            }
        }
        return weights;
    }

    /// <summary>The method itself: the weights for a checked Gramian (and the losses, where the context has them).</summary>
    protected abstract double[] ComputeWeights(GramianContext context);
}
