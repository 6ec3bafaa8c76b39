using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// Aligned-MTL, "Independent Component Alignment for Multi-Task Learning" (Senushkin, Patakin, Kuznetsov and
/// Konushin, CVPR 2023), Algorithm 1: with the Gram matrix M = J Jᵀ = V diag(λ) Vᵀ (λ_1 ≥ … ≥ λ_R &gt; 0 its
/// non-zero eigenvalues), the balance transformation B = √λ_R V Σ⁻¹ Vᵀ, Σ = diag(√λ_1, …, √λ_R), aligns the
/// gradients into J' = B J, and the update is J'ᵀ w for the pre-defined task weights w.
/// </summary>
/// <remarks>
/// <para>
/// The aligned system has condition number 1: J' J'ᵀ = B M B = λ_R V_R V_Rᵀ, so every non-zero singular value
/// of J' equals the smallest non-zero singular value √λ_R of J (the paper's "min" scale, which Algorithm 1
/// uses). Since B is symmetric, the update is Jᵀ(B w): the weights are B w, computed in float64 from the
/// Gramian alone.
/// </para>
/// <para>
/// Rank deficiency is handled as the paper prescribes, with the non-zero eigenvalues only: B acts as zero on
/// the eigenvectors of the eigenvalues counted as zero, which for exactly dependent gradients are weight
/// combinations that produce no update anyway. A zero gradient therefore changes nothing for the others. If
/// every gradient is zero (R = 0) the weights are all zero.
/// </para>
/// <para>
/// The numerical rank: eigenvalues up to T·ε·λ_max count as zero. The default ε = 2⁻²³ is the official code's
/// (<c>torch.finfo().eps</c> of the default float32 dtype, also used by LibMTL and TorchJD), the noise floor of
/// a Gramian computed in float32; directions whose singular value is below about √(Tε) ≈ 3.5·10⁻⁴·√T of the
/// largest are then dropped instead of shrinking the whole update to their size. For Jacobians in float64
/// pass <see cref="Float64Epsilon"/> to keep such directions, as the exact algorithm would.
/// </para>
/// <para>
/// Default task weights are all ones, as in the official code (SamsungLabs/MTL sums the aligned gradients) and
/// LibMTL; TorchJD uses 1/T, a factor T smaller. The official code also offers "median" and "rmse" scales and
/// a variant on shared features (Aligned-MTL-UB); neither is implemented here.
/// </para>
/// </remarks>
public sealed class AlignedMTL : GramianWeighting
{
    /// <summary>2⁻²³, the float32 machine epsilon: the official rank tolerance's ε and the default.</summary>
    public const double Float32Epsilon = 1.1920928955078125e-7;

    /// <summary>2⁻⁵², the float64 machine epsilon: the rank tolerance's ε for Gramians of float64 Jacobians.</summary>
    public const double Float64Epsilon = DenseLinearAlgebra.Eps;

    private readonly double[]? _taskWeights;

    /// <summary>Creates the aggregator.</summary>
    /// <param name="taskWeights">The pre-defined task weights w (finite, non-negative); null for all ones.</param>
    /// <param name="rankEpsilon">ε of the rank tolerance T·ε·λ_max, in [0, 1).</param>
    public AlignedMTL(IReadOnlyList<double>? taskWeights = null, double rankEpsilon = Float32Epsilon)
    {
        if (!double.IsFinite(rankEpsilon) || rankEpsilon < 0.0 || rankEpsilon >= 1.0)
        {
            throw new ArgumentOutOfRangeException(nameof(rankEpsilon), rankEpsilon, "The rank tolerance's epsilon must be in [0, 1).");
        }
        RankEpsilon = rankEpsilon;
        if (taskWeights is not null)
        {
            if (taskWeights.Count == 0)
            {
                throw new ArgumentException("The task weights are empty; pass one weight per task, or null for all ones.", nameof(taskWeights));
            }
            for (var i = 0; i < taskWeights.Count; i++)
            {
                if (!double.IsFinite(taskWeights[i]) || taskWeights[i] < 0.0)
                {
                    throw new ArgumentOutOfRangeException(nameof(taskWeights), taskWeights[i],
                        $"Task weight {i} is {taskWeights[i]}; task weights must be finite and non-negative.");
                }
            }
            _taskWeights = taskWeights.ToArray();
        }
    }

    /// <summary>ε of the rank tolerance: eigenvalues of the Gramian up to T·ε·λ_max count as zero.</summary>
    public double RankEpsilon { get; }

    /// <summary>The pre-defined task weights w, or null for all ones.</summary>
    public IReadOnlyList<double>? TaskWeights => _taskWeights;

    /// <summary>The weights B w (update = (B w)ᵀ J = J'ᵀ w).</summary>
    /// <exception cref="ArgumentException">The Gramian's size differs from the number of task weights.</exception>
    protected override double[] ComputeWeights(GramianContext context)
    {
        var taskCount = context.Gramian.TaskCount;
        if (_taskWeights is not null && _taskWeights.Length != taskCount)
        {
            throw new ArgumentException(
                $"Aligned-MTL was given {_taskWeights.Length} task weights, but the Gramian has {taskCount} tasks.", "gramian");
        }
        var balance = Balance(context.Gramian.Values, RankEpsilon);
        var weights = new double[taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            var sum = 0.0;
            for (var j = 0; j < taskCount; j++)
            {
                sum += balance[i, j] * (_taskWeights?[j] ?? 1.0);
            }
            weights[i] = sum;
        }
        return weights;
    }

    /// <summary>
    /// The balance transformation B = √λ_R V Σ⁻¹ Vᵀ of Algorithm 1 (T×T, symmetric): row i of B J is task i's
    /// aligned gradient. Zero when every gradient is zero.
    /// </summary>
    /// <param name="gramian">G = J Jᵀ.</param>
    /// <param name="rankEpsilon">Eigenvalues up to T·ε·λ_max count as zero.</param>
    /// <exception cref="ArgumentException">The matrix cannot be a Gramian: it is not square, not finite or not symmetric, has a negative diagonal entry, or has an entry with |G_ij| &gt; √(G_ii G_jj).</exception>
    public static double[,] BalanceMatrix(double[,] gramian, double rankEpsilon = Float32Epsilon) =>
        Balance(CheckedGramian.From(gramian).Values, rankEpsilon);

    private static double[,] Balance(double[,] gramian, double rankEpsilon)
    {
        if (!double.IsFinite(rankEpsilon) || rankEpsilon < 0.0 || rankEpsilon >= 1.0)
        {
            throw new ArgumentOutOfRangeException(nameof(rankEpsilon), rankEpsilon, "The rank tolerance's epsilon must be in [0, 1).");
        }
        var n = gramian.GetLength(0);
        var (values, vectors) = DenseLinearAlgebra.SymmetricEigen(gramian);
        var tolerance = n * rankEpsilon * Math.Max(values[0], 0.0);
        var rank = 0;
        while (rank < n && values[rank] > tolerance)
        {
            rank++;
        }
        var balance = new double[n, n];
        if (rank == 0)
        {
            return balance;
        }
        var smallest = Math.Sqrt(values[rank - 1]);
        for (var k = 0; k < rank; k++)
        {
            var scale = smallest / Math.Sqrt(values[k]);
            for (var i = 0; i < n; i++)
            {
                var vik = scale * vectors[i, k];
                for (var j = 0; j < n; j++)
                {
                    balance[i, j] += vik * vectors[j, k];
                }
            }
        }
        return balance;
    }
}
