using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// Gradient Vaccine, "Gradient Vaccine: Investigating and Improving Multi-task Optimization in Massively
/// Multilingual Models" (Wang, Tsvetkov, Firat and Cao, ICLR 2021), Algorithm 1 on the whole shared-parameter
/// vector: for each task i, g_i' starts as g_i and visits every OTHER task j in a random order drawn
/// independently for i; with φ_ij = cos(g_i', g_j) and the target φ̂_ij, whenever φ_ij &lt; φ̂_ij (strictly)
/// it is replaced by (Eq. 2)
/// g_i' + ‖g_i'‖ (φ̂_ij √(1 − φ_ij²) − φ_ij √(1 − φ̂_ij²)) / (‖g_j‖ √(1 − φ̂_ij²)) g_j,
/// always with the ORIGINAL g_j, which makes cos(g_i', g_j) = φ̂_ij; after every visit the target follows the
/// exponential moving average (Eq. 3) φ̂_ij ← (1 − β) φ̂_ij + β φ_ij. The update is Σ_i g_i' (or its mean).
/// </summary>
/// <remarks>
/// <para>
/// With targets φ̂ = 0 (β = 0 and initial target 0) the rule is PCGrad's projection exactly: the test
/// φ_ij &lt; 0 is g_i'·g_j &lt; 0 and the coefficient reduces to −g_i'·g_j/‖g_j‖². The task orders are drawn
/// exactly as <see cref="PCGrad"/> draws them, so the same seed gives the same orders.
/// </para>
/// <para>
/// Computed in Gramian space like <see cref="PCGrad"/>: g_i' = c_iᵀJ, so g_i'·g_j = (G c_i)_j and
/// ‖g_i'‖² = c_iᵀ G c_i; an adjustment only adds to c_i[j]. The T×T work is O(T³) in float64 (G c_i is
/// updated incrementally).
/// </para>
/// <para>
/// The state is the T×T matrix of targets φ̂ (created at the first call, all equal to the initial target;
/// the diagonal is unused) and the order generator. A later call with another number of tasks is refused;
/// call <see cref="Reset"/> to start over.
/// </para>
/// <para>
/// Degenerate cases: when g_j = 0 or g_i' = 0 the cosine is undefined, so the pair is skipped and its target
/// left unchanged. A target of exactly ±1 cannot be reached by a finite multiple of g_j (the closed form divides
/// by √(1 − φ̂²) = 0); such a pair is not adjusted, although its target is still updated. Cosines are clamped to
/// [−1, 1] against rounding.
/// </para>
/// <para>
/// Differences from public implementations, where we follow the paper: Algorithm 1 of the paper updates the
/// EMA after every visited pair, while LibMTL (and the SamsungLabs/MTL port of it) update it only for adjusted
/// pairs; LibMTL adds 10⁻⁸ to denominators and defaults to β = 0.5, whereas the paper uses β = 10⁻². The paper
/// applies the rule per parameter group θ_k (its Algorithm 1 loops over model components, and its experiments
/// often use per-layer targets); this class is the whole-vector version, with a single group.
/// </para>
/// </remarks>
public sealed class GradVac : RandomizedGramianWeighting
{
    private double[,]? _targets;

    /// <summary>Creates the aggregator.</summary>
    /// <param name="beta">The EMA rate β of the targets, in [0, 1]; the paper uses 10⁻².</param>
    /// <param name="initialTarget">The initial target φ̂ of every pair, in (−1, 1); Algorithm 1 starts from 0.</param>
    /// <param name="reduction">Sum (the paper) or mean of the adjusted gradients.</param>
    /// <param name="seed">Seed of the random task orders; the same seed gives the same orders as <see cref="PCGrad"/>'s.</param>
    public GradVac(double beta = 0.01, double initialTarget = 0.0, Reduction reduction = Reduction.Sum, long? seed = null)
        : base(seed, "GradVac/1", "GradVac")
    {
        if (!double.IsFinite(beta) || beta < 0.0 || beta > 1.0)
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "The EMA rate beta must be in [0, 1].");
        }
        if (!double.IsFinite(initialTarget) || initialTarget <= -1.0 || initialTarget >= 1.0)
        {
            throw new ArgumentOutOfRangeException(nameof(initialTarget), initialTarget,
                "The initial target cosine must be in (-1, 1); a target of ±1 cannot be reached by a finite adjustment.");
        }
        if (!Enum.IsDefined(reduction))
        {
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Unknown reduction.");
        }
        Beta = beta;
        InitialTarget = initialTarget;
        Reduction = reduction;
    }

    /// <summary>The EMA rate β of the target similarities.</summary>
    public double Beta { get; }

    /// <summary>The target every pair starts from.</summary>
    public double InitialTarget { get; }

    /// <summary>Sum or mean of the adjusted gradients.</summary>
    public Reduction Reduction { get; }

    /// <summary>A copy of the current targets φ̂ (T×T, row i = task being adjusted), or null before the first call.</summary>
    public double[,]? Targets => (double[,]?)_targets?.Clone();

    /// <summary>Forgets the targets (the next call starts again from <see cref="InitialTarget"/>); the order generator is kept.</summary>
    public void Reset() => _targets = null;

    /// <inheritdoc />
    public override void SaveState(BinaryWriter writer)
    {
        base.SaveState(writer);
        var taskCount = _targets?.GetLength(0) ?? 0;
        writer.Write(taskCount);
        for (var i = 0; i < taskCount; i++)
        {
            for (var j = 0; j < taskCount; j++)
            {
                writer.Write(_targets![i, j]);
            }
        }
    }

    /// <inheritdoc />
    public override void LoadState(BinaryReader reader)
    {
        var randomState = ReadGeneratorState(reader);
        var taskCount = reader.ReadInt32();
        if (taskCount < 0 || taskCount > 100_000)
        {
            throw new InvalidDataException($"GradVac state claims {taskCount} tasks.");
        }
        double[,]? targets = null;
        if (taskCount > 0)
        {
            targets = new double[taskCount, taskCount];
            for (var i = 0; i < taskCount; i++)
            {
                for (var j = 0; j < taskCount; j++)
                {
                    var value = reader.ReadDouble();
                    if (!(value >= -1.0 && value <= 1.0))
                    {
                        throw new InvalidDataException($"GradVac state has target [{i}, {j}] = {value}, which is not a cosine.");
                    }
                    targets[i, j] = value;
                }
            }
        }
        RandomState = randomState;
        _targets = targets;
    }

    /// <summary>GradVac with the given orders: <paramref name="orders"/>[i] lists, in visiting order, every task except i. Updates the targets.</summary>
    /// <exception cref="ArgumentException">An order is not a permutation of the other tasks' indices.</exception>
    public Tensor Aggregate(Tensor jacobian, IReadOnlyList<IReadOnlyList<int>> orders)
    {
        Jacobian.Validate(jacobian);
        TaskOrders.Validate(orders, (int)jacobian.shape[0]);
        return Jacobian.Combine(jacobian, Weights(Jacobian.Gramian(jacobian), orders));
    }

    /// <summary>The weights w (update = wᵀJ) for freshly drawn random orders. Updates the targets.</summary>
    protected override double[] ComputeWeights(GramianContext context)
    {
        // Checked before the orders are drawn, so that a refused call leaves the generator where it was.
        EnsureTaskCount(context.Gramian.TaskCount);
        return WeightsFor(context.Gramian.Values, DrawOrders(context.Gramian.TaskCount));
    }

    /// <summary>The weights w (update = wᵀJ) for the given orders. Updates the targets.</summary>
    /// <exception cref="ArgumentException">
    /// Invalid Gramian, orders that are not permutations of the other tasks, or a number of tasks that differs
    /// from the one the targets were created for.
    /// </exception>
    public double[] Weights(double[,] gramian, IReadOnlyList<IReadOnlyList<int>> orders) =>
        WeightsFor(CheckedGramian.From(gramian).Values, orders);

    private double[] WeightsFor(double[,] gramian, IReadOnlyList<IReadOnlyList<int>> orders)
    {
        var taskCount = gramian.GetLength(0);
        TaskOrders.Validate(orders, taskCount);
        EnsureTaskCount(taskCount);
        _targets ??= CreateTargets(taskCount);

        return Reduction.Combine(Coefficients(gramian, orders, _targets, Beta));
    }

    /// <summary>
    /// The coefficient matrix C of Algorithm 1 in Gramian space: row i holds the coefficients of task i's adjusted
    /// gradient, g_i' = Σ_j C[i, j] g_j. Reads and updates <paramref name="targets"/> (T×T) in place with rate
    /// <paramref name="beta"/>.
    /// </summary>
    public static double[,] AdjustmentCoefficients(
        double[,] gramian, IReadOnlyList<IReadOnlyList<int>> orders, double[,] targets, double beta) =>
        Coefficients(CheckedGramian.From(gramian).Values, orders, targets, beta);

    private static double[,] Coefficients(double[,] gramian, IReadOnlyList<IReadOnlyList<int>> orders, double[,] targets, double beta)
    {
        var taskCount = gramian.GetLength(0);
        TaskOrders.Validate(orders, taskCount);
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.GetLength(0) != taskCount || targets.GetLength(1) != taskCount)
        {
            throw new ArgumentException(
                $"The targets are {targets.GetLength(0)}×{targets.GetLength(1)}, but the Gramian has {taskCount} tasks.", nameof(targets));
        }
        if (!double.IsFinite(beta) || beta < 0.0 || beta > 1.0)
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "The EMA rate beta must be in [0, 1].");
        }

        var norms = GramianMath.Norms(gramian);
        var coefficients = new double[taskCount, taskCount];
        var projections = new double[taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            coefficients[i, i] = 1.0;
            // projections[k] = g_i'·g_k = (G c_i)_k, kept current as c_i changes.
            for (var k = 0; k < taskCount; k++)
            {
                projections[k] = gramian[i, k];
            }
            foreach (var j in orders[i])
            {
                if (norms[j] == 0.0)
                {
                    continue;
                }
                var squaredNorm = 0.0;
                for (var k = 0; k < taskCount; k++)
                {
                    squaredNorm += coefficients[i, k] * projections[k];
                }
                if (!(squaredNorm > 0.0))
                {
                    continue;
                }
                var norm = Math.Sqrt(squaredNorm);
                var cosine = Math.Clamp(projections[j] / norm / norms[j], -1.0, 1.0);
                var target = targets[i, j];
                if (cosine < target && Math.Abs(target) < 1.0)
                {
                    var targetSine = Math.Sqrt((1.0 - target) * (1.0 + target));
                    var sine = Math.Sqrt((1.0 - cosine) * (1.0 + cosine));
                    var step = norm * (target * sine - cosine * targetSine) / (norms[j] * targetSine);
                    coefficients[i, j] += step;
                    for (var k = 0; k < taskCount; k++)
                    {
                        projections[k] += step * gramian[j, k];
                    }
                }
                targets[i, j] = (1.0 - beta) * target + beta * cosine;
            }
        }
        return coefficients;
    }

    /// <summary>Draws, for every task i, an independent uniformly random order over the other tasks (as <see cref="PCGrad.DrawOrders"/>).</summary>
    public IReadOnlyList<IReadOnlyList<int>> DrawOrders(int taskCount) => TaskOrders.Draw(Generator, taskCount);

    private double[,] CreateTargets(int taskCount)
    {
        var targets = new double[taskCount, taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            for (var j = 0; j < taskCount; j++)
            {
                targets[i, j] = i == j ? 0.0 : InitialTarget;
            }
        }
        return targets;
    }

    private void EnsureTaskCount(int taskCount)
    {
        if (_targets is not null && _targets.GetLength(0) != taskCount)
        {
            throw new ArgumentException(
                $"GradVac keeps targets for {_targets.GetLength(0)} tasks, but this Jacobian has {taskCount}; call Reset() to start over with a new task set.");
        }
    }
}
