using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// DualProj (Quinton and Rey, "Jacobian Descent for Multi-Objective Optimization", arXiv 2406.16232, 2024,
/// where it is compared with UPGrad; the projection is that of GEM, Lopez-Paz and Ranzato, NeurIPS 2017,
/// Eq. 11): the mean gradient projected onto the dual cone of the task gradients,
/// A_DualProj(J) = π_J((1/T) Σ_i g_i) with π_J(x) = argmin { ‖y − x‖² : J y ≥ 0 } (Quinton and Rey, Eq. 3). The
/// update conflicts with no task (J·d ≥ 0), and it is exactly the mean whenever the mean conflicts with no task.
/// </summary>
/// <remarks>
/// <para>
/// Computed in Gramian space by Quinton and Rey's Proposition 1: π_J(Jᵀu) = Jᵀw with
/// w = argmin { vᵀGv : v ≥ u } and u = (1/T)1. The quadratic program is solved exactly (an active-set method,
/// <c>NonNegativeQuadraticProgram</c>) with no regularisation, also for singular G; within its relative
/// tolerance τ = 10⁻¹⁰, g_j · d ≥ −τ (‖g_j‖ Σ_k (w_k − 1/T) ‖g_k‖ + |g_j · ḡ|) for every task j, where ḡ is the
/// mean gradient. If all gradients are zero the weights are 1/T and the update is zero.
/// </para>
/// <para>
/// Differences from TorchJD's <c>DualProj</c>, where we follow the paper: TorchJD divides G by its trace and
/// adds 10⁻⁴·I before solving with quadprog, which slightly changes the projection (0.5563 instead of the exact
/// 10/18 = 0.5556 in its documentation example), and it offers a preference vector in place of the mean.
/// </para>
/// </remarks>
public sealed class DualProj : GramianWeighting
{
    /// <summary>The weights w = argmin_{v ≥ 1/T} vᵀGv (update = wᵀJ); every w_j ≥ 1/T.</summary>
    protected override double[] ComputeWeights(GramianContext context)
    {
        var g = context.Gramian.Values;
        var taskCount = g.GetLength(0);
        return DualConeProjection.Weights(g, Enumerable.Repeat(1.0 / taskCount, taskCount).ToArray());
    }
}
