using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// IMTL-G, the gradient balance of "Towards Impartial Multi-task Learning" (Liu, Li, Kuang, Xue, Chen, Yang,
/// Liao and Zhang, ICLR 2021): the update g = Σ_t α_t g_t with Σ_t α_t = 1 whose projections onto every unit
/// task gradient u_t = g_t/‖g_t‖ are equal, g·u_1 = g·u_t for all t. The paper's closed form is
/// α_{2:T} = g_1 Uᵀ (D Uᵀ)⁻¹ and α_1 = 1 − Σ_{t≥2} α_t, with the rows of D being g_1 − g_t and those of U
/// being u_1 − u_t (t = 2…T).
/// </summary>
/// <remarks>
/// <para>
/// Computed in Gramian space, in float64. Writing g = Σ_t γ_t u_t (so α_t = γ_t/‖g_t‖), the projections are
/// g·u_t = (Cγ)_t with C the cosine matrix C_st = G_st/(‖g_s‖‖g_t‖). The paper's conditions say that Cγ is a
/// multiple of the all-ones vector 1 and that Σ_t γ_t/‖g_t‖ = 1. Whenever the paper's D Uᵀ is invertible this
/// system has exactly one solution, which is returned (to rounding it is the paper's α):
/// </para>
/// <list type="bullet">
/// <item>linearly independent gradients (the paper's setting): γ ∝ C⁻¹1, the direction with equal cosine to
/// every task, scaled so the weights sum to 1;</item>
/// <item>gradients spanning one dimension fewer than their number, with equal non-zero projections impossible
/// (e.g. two opposite gradients, or three generic gradients in a plane): the only solutions of the paper's
/// equations have zero projections, so γ spans the null space of C and the update is zero (to rounding) while
/// the weights still sum to 1. This is the continuous limit of the independent case.</item>
/// </list>
/// <para>
/// Where D Uᵀ is singular the paper's formula is undefined (its matrix inverse fails); this implementation then
/// picks, documented, the minimum-norm choice: γ = C⁺1 (the pseudo-inverse solution of equal unit
/// projections) when 1 lies in the range of C, e.g. for identical or positively parallel gradients; otherwise the
/// smallest γ in the null space of C with Σ_t γ_t/‖g_t‖ = 1 (zero update). Identical gradients thus get equal
/// weights; g and 2g get weights 2/3 and 1/3. Eigenvalues of C up to 10⁻¹² λ_max count as zero
/// (see <see cref="RelativeTolerance"/>). If no weights summing to 1 exist (Σ_t γ_t/‖g_t‖ vanishes to within
/// 10⁻¹² of its terms), the weights are all zero.
/// </para>
/// <para>
/// A zero gradient has no unit vector, so it takes no part: its weight is 0 and the others are those of IMTL-G
/// without it. All-zero gradients give all-zero weights; a single non-zero gradient gets weight 1.
/// </para>
/// <para>
/// Differences from public implementations: LibMTL inverts D Uᵀ directly (NaN or an exception when it is
/// singular, NaN for a zero gradient) and combines IMTL-G with the loss balance IMTL-L (here IMTL-G alone, the
/// part that acts on the shared gradients); TorchJD returns G⁺‖g‖ normalised, which coincides with the paper
/// when the gradients are independent but not in the rank-deficient cases above, where we keep the paper's
/// solution whenever it exists. The paper applies IMTL-G to the gradients of the shared features; here it acts
/// on whatever Jacobian it is given (parameters, or features through <c>MultiTaskBackward</c>).
/// </para>
/// </remarks>
public sealed class IMTLG : GramianWeighting
{
    /// <summary>Eigenvalues of the cosine matrix up to this fraction of the largest one are treated as zero.</summary>
    /// <remarks>
    /// The cosines come from a Gramian whose entries carry rounding of order √P·ε relative to ‖g_s‖‖g_t‖, so
    /// eigenvalues below about 10⁻¹² (singular values of the unit-gradient matrix below 10⁻⁶) carry no information.
    /// </remarks>
    public const double RelativeTolerance = 1e-12;

    // ‖P_null 1‖ ≤ this × ‖1‖ counts as "1 lies in the range of C" (√ε: the accuracy of a computed eigenvector).
    private const double RangeTolerance = 1.5e-8;

    // |Σ_t α_t| below this fraction of Σ_t |α_t| means the normalisation Σ α = 1 is impossible (rounding level).
    private const double DegenerateSumTolerance = 1e-12;

    /// <summary>The weights α (update = αᵀJ), summing to 1 unless every gradient is zero or no such weights exist.</summary>
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
        if (m == 1)
        {
            weights[tasks[0]] = 1.0;
            return weights;
        }

        var (values, vectors) = DenseLinearAlgebra.SymmetricEigen(GramianMath.CosineMatrix(gramian, tasks));
        var tolerance = RelativeTolerance * values[0];

        // inverseNorm[a] ∝ 1/‖g_a‖, scaled by the smallest norm so that the entries lie in (0, 1] and nothing overflows.
        var smallestNorm = tasks.Min(t => Math.Sqrt(gramian[t, t]));
        var inverseNorm = tasks.Select(t => smallestNorm / Math.Sqrt(gramian[t, t])).ToArray();

        var onesInNullSpace = 0.0;
        for (var k = 0; k < m; k++)
        {
            if (values[k] <= tolerance)
            {
                var coefficient = GramianMath.ColumnSum(vectors, k, m);
                onesInNullSpace += coefficient * coefficient;
            }
        }

        double[] gamma;
        if (onesInNullSpace > RangeTolerance * RangeTolerance * m)
        {
            // Equal non-zero projections are impossible: γ ∈ null(C), the smallest with Σ γ_a/‖g_a‖ = 1.
            gamma = new double[m];
            for (var k = 0; k < m; k++)
            {
                if (values[k] <= tolerance)
                {
                    GramianMath.AddScaledColumn(gamma, vectors, k, m, Dot(vectors, k, inverseNorm, m));
                }
            }
        }
        else
        {
            // γ = C⁺1: C⁻¹1 when the gradients are independent, the paper's unique solution.
            gamma = GramianMath.PseudoInverseTimesOnes(values, vectors, tolerance, out _, out _);
        }

        var sum = 0.0;
        var absoluteSum = 0.0;
        for (var a = 0; a < m; a++)
        {
            var term = gamma[a] * inverseNorm[a];
            sum += term;
            absoluteSum += Math.Abs(term);
        }
        if (!(Math.Abs(sum) > DegenerateSumTolerance * absoluteSum))
        {
            return weights;
        }
        for (var a = 0; a < m; a++)
        {
            weights[tasks[a]] = gamma[a] * inverseNorm[a] / sum;
        }
        return weights;
    }

    private static double Dot(double[,] vectors, int column, double[] x, int m)
    {
        var sum = 0.0;
        for (var a = 0; a < m; a++)
        {
            sum += vectors[a, column] * x[a];
        }
        return sum;
    }
}
