using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// FairGrad, "Fair Resource Allocation in Multi-Task Learning" (Ban and Ji, ICML 2024), Algorithm 1 and the
/// α-fair utility maximisation it solves: the update d = Σ_i w_i g_i maximises the α-fair utility
/// Σ_i (g_iᵀd)^(1−α)/(1−α) (Σ_i ln g_iᵀd for α = 1) of the tasks' loss decreases over a ball of directions;
/// its weights w &gt; 0 solve Gw = w^(−1/α) element-wise, i.e. g_iᵀd = w_i^(−1/α) for every task.
/// </summary>
/// <remarks>
/// <para>
/// In Gramian space the condition is the stationarity condition of the strictly convex problem
/// min_{w&gt;0} ½wᵀGw − Σ_i h(w_i) with h'(w) = w^(−1/α), solved by the damped Newton method of
/// <see cref="Solvers.BargainingSolver"/>, run to rounding (componentwise backward error ≤ 1e-12). α = 1
/// (proportional fairness) is exactly Nash-MTL's condition Gα = 1/α; α → ∞ approaches max–min fairness.
/// Orthogonal gradients give w_i = ‖g_i‖^(−2α/(1+α)).
/// </para>
/// <para>
/// As for Nash-MTL, the condition requires g_iᵀd &gt; 0 for every task and has no solution at a
/// Pareto-stationary point (0 in the convex hull of the gradients); we solve (G + ρ·diag G) w = w^(−1/α)
/// with ρ = <see cref="Ridge"/> = 1e-10 (each gradient gets a private orthogonal component of relative norm
/// √ρ), which always has a solution, keeps every weight finite, and moves a well-posed solution by a relative
/// O(ρ) (checked: Gw = w^(−1/α) holds to 1e-8 on random Jacobians). For α &lt; 1 a small gradient conflicting
/// with a much larger one makes (Gw)_i a cancellation of larger terms, which amplifies that O(ρ) change (to
/// 2e-5 for α = 0.5 and norms 1e6 apart in the tests). A task whose gradient is exactly zero is left out and
/// gets weight 0.
/// </para>
/// <para>
/// Differences from public implementations, where we follow the paper: the official code (OptMN-Lab/fairgrad)
/// and LibMTL find w with scipy's <c>least_squares</c> (bounds w ≥ 0, default tolerances, starting from 1/T),
/// which returns an approximate root; the official code also multiplies the update by T ("to match the sum
/// loss") and clips its norm to <c>max_norm</c> = 1. The official command-line default is α = 1, which is
/// the default here; its CelebA and QM9 scripts use α = 2.
/// </para>
/// </remarks>
public sealed class FairGrad : GramianWeighting
{
    /// <summary>The relative ridge ρ in (G + ρ·diag G) w = w^(−1/α).</summary>
    public const double Ridge = 1e-10;

    /// <summary>Creates the aggregator.</summary>
    /// <param name="alpha">The fairness parameter α &gt; 0 (1: proportional fairness, as Nash-MTL; large: max–min fairness).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="alpha"/> is not positive and finite.</exception>
    public FairGrad(double alpha = 1.0)
    {
        if (!(alpha > 0.0) || !double.IsFinite(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "FairGrad's α must be positive and finite (Ban and Ji, 2024).");
        }
        Alpha = alpha;
    }

    /// <summary>The fairness parameter α.</summary>
    public double Alpha { get; }

    /// <summary>The weights w solving (G + ρ·diag G) w = w^(−1/α), with w_i = 0 for zero gradients.</summary>
    protected override double[] ComputeWeights(GramianContext context)
    {
        var checkedGramian = context.Gramian.Values;
        return BargainingSolver.Solve(checkedGramian, 1.0 / Alpha, Ridge).Weights;
    }
}
