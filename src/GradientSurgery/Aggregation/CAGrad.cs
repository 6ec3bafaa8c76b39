using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// CAGrad, "Conflict-Averse Gradient Descent for Multi-task Learning" (Liu, Liu, Jin, Stone and Liu,
/// NeurIPS 2021), Algorithm 1 and the primal–dual derivation before it: the update d maximises the worst
/// task improvement min_i g_iᵀd over the ball ‖d − g_0‖ ≤ c‖g_0‖ around the mean gradient
/// g_0 = (1/T) Σ_i g_i. Through the paper's Lagrangian dual, d = g_0 + (√φ/‖g_w‖) g_w with φ = c²‖g_0‖²,
/// g_w = Σ_i w_i g_i, and w the point of the probability simplex minimising F(w) = g_wᵀg_0 + √φ‖g_w‖.
/// </summary>
/// <remarks>
/// <para>
/// Computed in Gramian space: g_wᵀg_0 = wᵀG1/T, ‖g_w‖² = wᵀGw and ‖g_0‖² = 1ᵀG1/T², and the update is
/// Σ_i λ_i g_i with λ = 1/T + (√φ/‖g_w‖) w. The T-dimensional problem for w is solved in float64 by a
/// hand-written interior-point Newton method followed by an exact Newton solve on the optimal face
/// (<see cref="Solvers.CAGradDualSolver"/>), so the update has the defining primal–dual properties to
/// rounding: it lies in the ball, and its worst improvement min_i g_iᵀd equals F(w), an upper bound for every
/// d in the ball (the tests check both to 1e-9 relative, and against brute force in two dimensions).
/// </para>
/// <para>
/// c = 0 gives the mean gradient; T = 1 gives (1 + c) g_1; identical gradients give (1 + c) g. When
/// ‖g_0‖ = 0 (all gradients zero, or opposite gradients cancelling) the ball is the point g_0 = 0 and the
/// update is 0. The formula is 0/0 when the minimiser has g_w = 0 (0 in the convex hull of the gradients,
/// e.g. a zero gradient or an opposite pair among other tasks); the update is then one of the maximisers of
/// the primal problem, as documented on <see cref="Solvers.CAGradDualSolver"/> (tasks with a zero gradient
/// are left out of the max–min, and a relative ridge of 1e-12·diag G inside ‖g_w‖, which moves a
/// non-degenerate update by a relative O(1e-12), selects among the rest), never NaN.
/// </para>
/// <para>
/// Differences from public implementations, where we follow the paper: the official code (Cranial-XIX/CAGrad)
/// and LibMTL divide the update by 1 + c² by default (their <c>rescale=1</c>; <c>rescale=2</c> divides by
/// 1 + c), which the paper does not do; <see cref="Rescale"/> reproduces the 1/(1 + c²) factor on request.
/// The official code also multiplies the update by T ("to match the sum loss"), solves the dual with scipy's
/// SLSQP from the uniform point with default tolerances, and adds 1e-8 inside the square roots and to ‖g_w‖;
/// the CAGrad port in the FairGrad repository also clips the update norm to 1. TorchJD solves the dual with
/// cvxpy on a normalised Gramian and returns zero weights when ‖g_w‖ is tiny, which leaves the ball.
/// The official NYU-v2 script uses c = 0.4; 0.5 is LibMTL's default and TorchJD's documented example.
/// </para>
/// </remarks>
public sealed class CAGrad : GramianWeighting
{
    /// <summary>Creates the aggregator.</summary>
    /// <param name="c">The ball radius relative to ‖g_0‖, in [0, 1) as in the paper (0 gives the mean gradient).</param>
    /// <param name="rescale">
    /// Divide the update by 1 + c², as the official code and LibMTL do by default (not in the paper).
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="c"/> is not in [0, 1).</exception>
    public CAGrad(double c = 0.5, bool rescale = false)
    {
        if (!(c >= 0.0 && c < 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(c), c, "CAGrad's c must be in [0, 1) (Liu et al., 2021).");
        }
        C = c;
        Rescale = rescale;
    }

    /// <summary>The ball radius relative to ‖g_0‖.</summary>
    public double C { get; }

    /// <summary>Whether the update is divided by 1 + c² (the official code's default, not the paper's).</summary>
    public bool Rescale { get; }

    /// <summary>The weights λ = 1/T + (√φ/‖g_w‖) w of the update Σ_i λ_i g_i (divided by 1 + c² when <see cref="Rescale"/>).</summary>
    protected override double[] ComputeWeights(GramianContext context)
    {
        var checkedGramian = context.Gramian.Values;
        var weights = CAGradDualSolver.Solve(checkedGramian, C).Weights;
        if (Rescale)
        {
            var factor = 1.0 / (1.0 + C * C);
            for (var i = 0; i < weights.Length; i++)
            {
                weights[i] *= factor;
            }
        }
        return weights;
    }
}
