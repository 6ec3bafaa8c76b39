using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// UPGrad, the unconflicting projection of gradients (Quinton and Rey, "Jacobian Descent for Multi-Objective
/// Optimization", arXiv 2406.16232, 2024, Section 3): each task gradient is projected onto the dual cone of all
/// of them, and the projections are averaged: A_UPGrad(J) = (1/T) Σ_i π_J(g_i), where
/// π_J(x) = argmin { ‖y − x‖² : J y ≥ 0 } (their Eq. 3). The update conflicts with no task (J·d ≥ 0), and when no
/// pair of gradients conflicts (every g_i · g_j ≥ 0) it is exactly the mean gradient.
/// </summary>
/// <remarks>
/// <para>
/// Computed in Gramian space by their Proposition 1: π_J(Jᵀe_i) = Jᵀv_i with v_i = argmin { vᵀGv : v ≥ e_i },
/// so the weights are w = (1/T) Σ_i v_i and the update is wᵀJ. Each v_i is the exact solution of that quadratic
/// program (<c>NonNegativeQuadraticProgram</c>, an active-set method) with no regularisation, also when G is
/// singular (rank-deficient J, repeated or opposite gradients); within its relative tolerance τ = 10⁻¹⁰,
/// g_j · d ≥ −τ ‖g_j‖ Σ_k w_k ‖g_k‖ for every task j. A zero gradient constrains nothing and is projected to
/// zero; if all gradients are zero the weights are 1/T and the update is zero.
/// </para>
/// <para>
/// Differences from TorchJD's <c>UPGradWeighting</c>, where we follow the paper: TorchJD divides G by its trace
/// and adds 10⁻⁴·I before solving with quadprog (which needs a positive definite matrix), which slightly changes
/// the projections (e.g. 0.2929 instead of the exact 50/171 = 0.2924 in its documentation example); it also
/// offers a preference vector to replace the mean, which the paper's UPGrad does not have.
/// </para>
/// </remarks>
public sealed class UPGrad : GramianWeighting
{
    /// <summary>The weights w = (1/T) Σ_i argmin_{v ≥ e_i} vᵀGv (update = wᵀJ); every w_j ≥ 1/T.</summary>
    protected override double[] ComputeWeights(GramianContext context)
    {
        var projections = Projections(context.Gramian.Values);
        var taskCount = projections.GetLength(0);
        var weights = new double[taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            for (var j = 0; j < taskCount; j++)
            {
                weights[j] += projections[i, j];
            }
        }
        for (var j = 0; j < taskCount; j++)
        {
            weights[j] /= taskCount;
        }
        return weights;
    }

    /// <summary>
    /// The weights v_i of the projection of each gradient: row i holds v_i, with π_J(g_i) = Σ_j v_i[j] g_j
    /// (never divided by T).
    /// </summary>
    /// <exception cref="ArgumentException">G is not square, not finite, or cannot be a Gramian.</exception>
    public static double[,] ProjectionWeights(double[,] gramian) => Projections(CheckedGramian.From(gramian).Values);

    private static double[,] Projections(double[,] g)
    {
        var taskCount = g.GetLength(0);
        var result = new double[taskCount, taskCount];
        var unit = new double[taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            unit[i] = 1;
            var projection = DualConeProjection.Weights(g, unit);
            unit[i] = 0;
            for (var j = 0; j < taskCount; j++)
            {
                result[i, j] = projection[j];
            }
        }
        return result;
    }
}
