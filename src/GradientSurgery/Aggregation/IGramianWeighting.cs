namespace GradientSurgery.Aggregation;

/// <summary>
/// An aggregator whose update is a linear combination of the task gradients, wᵀJ, with weights that depend
/// only on the Gramian G = J Jᵀ (T×T, float64).
/// </summary>
/// <remarks>
/// This split (as in TorchJD's Aggregator/Weighting) is what makes the surgery cheap: the T×T problem is
/// solved in float64 on the CPU, and the P-dimensional work is one matrix product for G and one
/// matrix-vector product for the update. The multi-task backward uses it to report the weights and to reuse
/// G for the conflict diagnostics.
/// </remarks>
public interface IGramianWeighting
{
    /// <summary>The weights w (length T) such that the update is Σ_j w_j g_j.</summary>
    /// <param name="gramian">The symmetric positive semi-definite T×T matrix G with G[i, j] = g_i · g_j.</param>
    double[] Weights(double[,] gramian);
}
