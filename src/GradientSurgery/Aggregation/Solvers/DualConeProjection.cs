namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// Projection onto the dual cone of the task gradients, {y : J y ≥ 0}, in Gramian space: for weights u,
/// π_J(Jᵀu) = Jᵀw with w = argmin_{v ≥ u} vᵀGv (Quinton and Rey, "Jacobian Descent for Multi-Objective
/// Optimization", arXiv 2406.16232, 2024, Proposition 1; π_J as in their Eq. 3).
/// </summary>
/// <remarks>
/// Solved exactly, without the regularisation G + εI that TorchJD adds: substituting v = u + x gives
/// min_{x ≥ 0} ½xᵀGx + (Gu)ᵀx, whose linear term lies in the range of G, so
/// <see cref="NonNegativeQuadraticProgram"/> solves it even for rank-deficient G. The KKT conditions are
/// precisely the defining properties of the projection: Gw = J(Jᵀw) ≥ 0 (no conflict with any task), w ≥ u,
/// and (Gw)_j = 0 wherever w_j &gt; u_j. Within the solver's tolerance:
/// g_j · π ≥ −τ (‖g_j‖ Σ_k (w_k − u_k) ‖g_k‖ + |g_j · Jᵀu|).
/// </remarks>
internal static class DualConeProjection
{
    /// <summary>w with π_J(Jᵀu) = Jᵀw, for a validated symmetric Gramian and finite u.</summary>
    public static double[] Weights(double[,] gramian, IReadOnlyList<double> u, double tolerance = NonNegativeQuadraticProgram.DefaultTolerance)
    {
        var linear = DenseLinearAlgebra.Multiply(gramian, u);
        var x = NonNegativeQuadraticProgram.Solve(gramian, linear, tolerance);
        for (var i = 0; i < x.Length; i++)
        {
            x[i] += u[i];
        }
        return x;
    }
}
