using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// PCGrad, "Gradient Surgery for Multi-Task Learning" (Yu, Kumar, Gupta, Levine, Hausman and Finn,
/// NeurIPS 2020), Algorithm 1, exactly: for each task i, g_i' starts as g_i and visits every OTHER task j in
/// a random order drawn independently for i; whenever g_i' · g_j &lt; 0 (strictly) it is replaced by
/// g_i' − (g_i' · g_j / ‖g_j‖²) g_j, always with the ORIGINAL g_j. The update is Σ_i g_i' (or its mean).
/// </summary>
/// <remarks>
/// <para>
/// Computed in Gramian space: each g_i' is a linear combination c_iᵀJ of the original gradients, so
/// g_i' · g_j = (c_iᵀG)_j and a projection only changes the coefficient c_i[j] by −(c_iᵀG)_j / G_jj. The
/// T×T work runs in float64; the update is one product wᵀJ with w = Σ_i c_i. A zero gradient g_j has a zero
/// row in G, so it never triggers a projection and nothing divides by zero.
/// </para>
/// <para>
/// Differences from public implementations, where we follow the paper: the official TensorFlow code and
/// Pytorch-PCGrad also project g_i against itself (a no-op for T = 2 but a different result for T ≥ 3);
/// the TensorFlow code discards its shuffle; Pytorch-PCGrad always averages; LibMTL and mtrl add an epsilon
/// to ‖g_j‖². Task-specific parameters are not part of the surgery (see <c>MultiTaskBackward</c>).
/// </para>
/// </remarks>
public sealed class PCGrad : RandomizedGramianWeighting
{
    /// <summary>Creates the aggregator.</summary>
    /// <param name="reduction">Sum (the paper) or mean of the projected gradients.</param>
    /// <param name="seed">Seed of the random task orders; the same seed gives the same orders and a bit-identical update.</param>
    public PCGrad(Reduction reduction = Reduction.Sum, long? seed = null)
        : base(seed, "PCGrad/1", "PCGrad")
    {
        if (!Enum.IsDefined(reduction))
        {
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Unknown reduction.");
        }
        Reduction = reduction;
    }

    /// <summary>Sum or mean of the projected gradients.</summary>
    public Reduction Reduction { get; }

    /// <summary>PCGrad with the given orders: <paramref name="orders"/>[i] lists, in visiting order, every task except i.</summary>
    /// <exception cref="ArgumentException">An order is not a permutation of the other tasks' indices.</exception>
    public Tensor Aggregate(Tensor jacobian, IReadOnlyList<IReadOnlyList<int>> orders)
    {
        Jacobian.Validate(jacobian);
        TaskOrders.Validate(orders, (int)jacobian.shape[0]);
        return Jacobian.Combine(jacobian, Weights(Jacobian.Gramian(jacobian), orders));
    }

    /// <summary>The weights w (update = wᵀJ) for freshly drawn random orders.</summary>
    protected override double[] ComputeWeights(GramianContext context) =>
        Weights(context.Gramian.Values, DrawOrders(context.Gramian.TaskCount));

    /// <summary>The weights w (update = wᵀJ) for the given orders.</summary>
    public double[] Weights(double[,] gramian, IReadOnlyList<IReadOnlyList<int>> orders) =>
        Reduction.Combine(ProjectionCoefficients(gramian, orders));

    /// <summary>
    /// The coefficient matrix C of Algorithm 1 in Gramian space: row i holds the coefficients of task i's
    /// projected gradient, g_i' = Σ_j C[i, j] g_j (never divided by T).
    /// </summary>
    public static double[,] ProjectionCoefficients(double[,] gramian, IReadOnlyList<IReadOnlyList<int>> orders)
    {
        GramianInput.RequireSquare(gramian, nameof(gramian));
        var taskCount = gramian.GetLength(0);
        TaskOrders.Validate(orders, taskCount);
        var coefficients = new double[taskCount, taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            coefficients[i, i] = 1.0;
            foreach (var j in orders[i])
            {
                if (gramian[j, j] == 0.0)
                {
                    // g_j = 0 never passes the strict test (its dot products are 0); this also keeps a g_j whose
                    // squared norm underflows to 0 from dividing by zero.
                    continue;
                }
                var dot = 0.0;
                for (var k = 0; k < taskCount; k++)
                {
                    dot += coefficients[i, k] * gramian[k, j];
                }
                if (dot < 0.0)
                {
                    coefficients[i, j] -= dot / gramian[j, j];
                }
            }
        }
        return coefficients;
    }

    /// <summary>Draws, for every task i, an independent uniformly random order over the other tasks.</summary>
    public IReadOnlyList<IReadOnlyList<int>> DrawOrders(int taskCount) => TaskOrders.Draw(Generator, taskCount);
}
