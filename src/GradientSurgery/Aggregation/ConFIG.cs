using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// ConFIG, "ConFIG: Towards Conflict-free Training of Physics Informed Neural Networks" (Liu, Chu and Thuerey,
/// ICLR 2025, arXiv 2408.11104), Eq. 2 with the paper's default equal direction weights:
/// g_ConFIG = (Σ_i g_iᵀ g_u) g_u with g_u = 𝒰([𝒰(g_1), …, 𝒰(g_m)]^{−⊤} 1_m), where 𝒰(g) = g/‖g‖ and
/// M^{−⊤} is the pseudo-inverse of Mᵀ. The direction has the same cosine with every task gradient, and its
/// length is the sum of the gradients' projections onto it.
/// </summary>
/// <remarks>
/// <para>
/// Computed in Gramian space, in float64. With u_i the unit gradients and C their Gramian (the cosine matrix
/// C_ij = G_ij/(‖g_i‖‖g_j‖)), the pseudo-inverse solution is x = Σ_i β_i u_i with β = C⁺1, ‖x‖² = 1ᵀC⁺1, and
/// every g_i·x/‖x‖ = ‖g_i‖ (Cβ)_i/‖x‖. So the update is wᵀJ with w_i = L β_i/(‖g_i‖‖x‖) and
/// L = Σ_i ‖g_i‖(Cβ)_i/‖x‖; only C's eigendecomposition is needed. For linearly independent gradients
/// Cβ = 1, so every cosine equals 1/‖x‖ &gt; 0 and L &gt; 0: the update is conflict-free.
/// </para>
/// <para>
/// Pseudo-inverse tolerance: an eigenvalue λ of C counts as zero when λ ≤ <see cref="RelativeTolerance"/>·λ_max
/// (default 10⁻¹², i.e. singular values of the unit-gradient matrix below 10⁻⁶ of the largest). The Gramian's
/// rounding, of order √P·ε in each cosine, makes smaller eigenvalues meaningless in float64; for a Gramian
/// computed in float32 a tolerance near 10⁻⁶ is more appropriate. The official code solves the same system
/// with <c>torch.linalg.lstsq</c> (or <c>pinv</c>), whose default cut-off is ε_dtype·max(m, P) on singular
/// values, i.e. (ε_dtype·max(m, P))² on these eigenvalues — far coarser when P is large; pass that value to
/// reproduce it.
/// </para>
/// <para>
/// Degenerate inputs: a zero gradient has no unit vector; like the official code's <c>nan_to_num</c> it
/// contributes a zero row, so it takes no part in the direction (weight 0). When 1 has no component in the
/// range of C (the unit gradients sum to zero, e.g. two opposite gradients) the pseudo-inverse solution is the
/// zero vector, g_u = 𝒰(0) is zero (the official 𝒰 divides by ‖g‖ + ε), and so is the update. For dependent
/// gradients (e.g. more tasks than parameters) the cosines are equal only in the least-squares sense, as in the
/// paper's pseudo-inverse. The two-task closed form of the official code (<c>ConFIG_update_double</c>) is
/// mathematically the same direction and is not used separately.
/// </para>
/// </remarks>
public sealed class ConFIG : GramianWeighting
{
    /// <summary>The default <see cref="RelativeTolerance"/>.</summary>
    public const double DefaultRelativeTolerance = 1e-12;

    // ‖P_range 1‖ ≤ this × ‖1‖ counts as 1 ⊥ range(C) (√ε: the accuracy of a computed eigenvector).
    private const double RangeTolerance = 1.5e-8;

    /// <summary>Creates the aggregator.</summary>
    /// <param name="relativeTolerance">
    /// Eigenvalues of the cosine matrix up to this fraction of the largest are treated as zero in the
    /// pseudo-inverse. Must be in [0, 1).
    /// </param>
    public ConFIG(double relativeTolerance = DefaultRelativeTolerance)
    {
        if (!double.IsFinite(relativeTolerance) || relativeTolerance < 0.0 || relativeTolerance >= 1.0)
        {
            throw new ArgumentOutOfRangeException(nameof(relativeTolerance), relativeTolerance,
                "The pseudo-inverse tolerance must be in [0, 1).");
        }
        RelativeTolerance = relativeTolerance;
    }

    /// <summary>Eigenvalues of the cosine matrix up to this fraction of the largest are treated as zero.</summary>
    public double RelativeTolerance { get; }

    /// <summary>The weights w with g_ConFIG = wᵀJ.</summary>
    protected override double[] ComputeWeights(GramianContext context)
    {
        var gramian = context.Gramian.Values;
        var weights = new double[gramian.GetLength(0)];
        var tasks = GramianMath.NonZeroTasks(gramian);
        var m = tasks.Length;
        if (m == 0)
        {
            return weights;
        }

        var cosines = GramianMath.CosineMatrix(gramian, tasks);
        var (values, vectors) = DenseLinearAlgebra.SymmetricEigen(cosines);
        var tolerance = RelativeTolerance * values[0];

        var beta = GramianMath.PseudoInverseTimesOnes(values, vectors, tolerance, out var onesInRange, out var directionNormSquared);
        if (onesInRange <= RangeTolerance * RangeTolerance * m)
        {
            return weights;
        }
        var directionNorm = Math.Sqrt(directionNormSquared);

        // L = Σ_i g_i·g_u = Σ_i ‖g_i‖ (Cβ)_i / ‖x‖ (zero gradients add nothing).
        var length = 0.0;
        for (var i = 0; i < m; i++)
        {
            var projection = 0.0;
            for (var a = 0; a < m; a++)
            {
                projection += cosines[i, a] * beta[a];
            }
            length += Math.Sqrt(gramian[tasks[i], tasks[i]]) * projection;
        }
        length /= directionNorm;

        for (var a = 0; a < m; a++)
        {
            // Divide step by step: ‖g_a‖ may be tiny or huge.
            weights[tasks[a]] = length * (beta[a] / directionNorm) / Math.Sqrt(gramian[tasks[a], tasks[a]]);
        }
        return weights;
    }
}
