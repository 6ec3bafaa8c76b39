using GradientSurgery.Weighting;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// DB-MTL, "Dual-Balancing for Multi-Task Learning" (Lin, Jiang, Ye, Zhang, Chen, Chen, Liu, Tsang and Kwok,
/// arXiv 2308.12029, 2023), Algorithm 1: loss-scale balancing trains on log L_i instead of L_i, and
/// gradient-magnitude balancing keeps an exponential moving average ĝ_i ← β ĝ_i + (1 − β) ∇ log L_i of each
/// task's (log-loss) gradient, ĝ_i starting at 0, and updates the shared parameters along
/// α Σ_i ĝ_i / ‖ĝ_i‖ with α = max_i ‖ĝ_i‖: every averaged gradient is rescaled to the largest norm among them,
/// then they are summed. β = 0.9 in the paper.
/// </summary>
/// <remarks>
/// <para>
/// It needs the gradients of log L_i: as an <see cref="ILossTransform"/> it has the multi-task backward differentiate
/// log L_i (so the heads also get ∇log L_i, as in the paper); <see cref="Aggregate(Tensor, IReadOnlyList{double})"/> takes
/// the Jacobian of the raw losses instead.
/// <see cref="Aggregate(Tensor, IReadOnlyList{double})"/> receives the Jacobian of the RAW losses and uses
/// ∇ log L_i = ∇L_i / L_i (L_i &gt; 0 required). <see cref="Aggregate(Tensor)"/>, the plain
/// <see cref="IAggregator"/> entry point, assumes the caller already applied the loss-scale balancing, i.e. that
/// the rows are gradients of log L_i: passing log-losses to the ordinary multi-task backward gives exactly
/// DB-MTL, task-specific parameters included (they receive ∇ log L_i, as in the paper). Both entry points
/// advance the same moving average.
/// </para>
/// <para>
/// The moving average is a T×P tensor of the Jacobian's dtype on its device (the only P-dimensional state,
/// which the method requires); the norms come from its Gramian and the update is one product wᵀĜ with
/// w_i = α / ‖ĝ_i‖. A zero averaged gradient has no direction and contributes nothing (weight 0); if all are
/// zero the update is zero. <see cref="SaveState"/> writes the average's values, so a restored instance
/// continues identically. With β = 0 the log transform does not change the shared update (each gradient is
/// normalised anyway); it matters through the average, which mixes steps with different losses, and for the
/// task-specific parameters.
/// </para>
/// <para>
/// LibMTL (the authors' implementation) adds 1e-8 inside the logarithm and to the norms, and offers a decaying
/// β_k = β / k^σ (σ = 0 by default, i.e. the paper's constant β); we follow the paper, requiring L_i &gt; 0 and
/// skipping zero averages instead of adding epsilons.
/// </para>
/// </remarks>
public sealed class DBMTL : IAggregator, ILossTransform, IStateful
{
    private const string StateTag = "DBMTL/1";

    private Tensor? _average;
    private double[] _lastWeights = [];

    /// <summary>Creates the aggregator.</summary>
    /// <param name="beta">The moving-average factor β ∈ [0, 1) (paper: 0.9); 0 uses the current gradients only.</param>
    public DBMTL(double beta = 0.9)
    {
        if (!(beta >= 0.0 && beta < 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "β must be in [0, 1).");
        }
        Beta = beta;
    }

    /// <summary>The moving-average factor β.</summary>
    public double Beta { get; }

    /// <summary>The number of steps taken (moving-average updates) since creation or the last restored state.</summary>
    public long Steps { get; private set; }

    /// <summary>The weights w_i = max_j ‖ĝ_j‖ / ‖ĝ_i‖ applied to the averaged gradients ĝ_i in the last step (0 for a zero average).</summary>
    public double[] LastWeights => (double[])_lastWeights.Clone();

    /// <summary>A copy of the moving average Ĝ (T×P), or null before the first step.</summary>
    public Tensor? MovingAverage => _average?.clone();

    /// <summary>DB-MTL on a Jacobian whose rows are already gradients of the log losses.</summary>
    public Tensor Aggregate(Tensor jacobian)
    {
        Jacobian.Validate(jacobian);
        return Step(jacobian, scales: null);
    }

    /// <summary>The log-loss transform of the paper's loss-scale balancing: log L (L must be positive).</summary>
    public Tensor Transform(Tensor loss)
    {
        ArgumentNullException.ThrowIfNull(loss);
        return loss.log();
    }

    /// <summary>DB-MTL on the Jacobian of the raw losses: row i is divided by L_i to get ∇ log L_i.</summary>
    /// <exception cref="ArgumentException">Wrong number of losses, or a loss ≤ 0.</exception>
    /// <exception cref="ArithmeticException">A loss is NaN or infinite.</exception>
    public Tensor Aggregate(Tensor jacobian, IReadOnlyList<double> losses)
    {
        Jacobian.Validate(jacobian);
        ArgumentNullException.ThrowIfNull(losses);
        if (losses.Count != jacobian.shape[0])
        {
            throw new ArgumentException($"Expected {jacobian.shape[0]} losses (one per Jacobian row), got {losses.Count}.", nameof(losses));
        }
        for (var i = 0; i < losses.Count; i++)
        {
            if (!double.IsFinite(losses[i]))
            {
                throw new ArithmeticException($"The loss of task {i} is {losses[i]}; DB-MTL needs finite losses.");
            }
        }
        LossList.RequirePositive(losses, "DB-MTL", "balances loss scales with log L");
        return Step(jacobian, [.. losses.Select(l => 1.0 / l)]);
    }

    /// <inheritdoc />
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateTag);
        writer.Write(Steps);
        if (_average is null)
        {
            writer.Write(0L);
            writer.Write(0L);
            return;
        }
        writer.Write(_average.shape[0]);
        writer.Write(_average.shape[1]);
        writer.Write((int)_average.dtype);
        foreach (var value in LossList.ToDoubles(_average.reshape(-1)))
        {
            writer.Write(value);
        }
    }

    /// <inheritdoc />
    public void LoadState(BinaryReader reader)
    {
        StateFormat.ReadTag(reader, StateTag, "DB-MTL");
        var steps = reader.ReadInt64();
        var rows = reader.ReadInt64();
        var columns = reader.ReadInt64();
        if (steps < 0 || rows < 0 || columns < 0 || (rows == 0) != (columns == 0) || (rows == 0 && steps > 0) || rows * columns > int.MaxValue)
        {
            throw new InvalidDataException($"Inconsistent DB-MTL state: {steps} steps, a {rows}×{columns} moving average.");
        }
        if (rows == 0)
        {
            Reset();
            return;
        }
        var dtype = (ScalarType)reader.ReadInt32();
        if (dtype is not (ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64))
        {
            throw new InvalidDataException($"The DB-MTL state has dtype {dtype}, not a floating-point type.");
        }
        var values = new double[rows * columns];
        for (var k = 0; k < values.Length; k++)
        {
            values[k] = reader.ReadDouble();
            if (!double.IsFinite(values[k]))
            {
                throw new InvalidDataException("The DB-MTL state holds a non-finite value.");
            }
        }
        using var scope = NewDisposeScope();
        var average = tensor(values, dtype: ScalarType.Float64).reshape(rows, columns).to(dtype);
        Reset();
        _average = average.DetachFromDisposeScope();
        Steps = steps;
    }

    private Tensor Step(Tensor jacobian, double[]? scales)
    {
        using var scope = NewDisposeScope();
        var rows = jacobian.shape[0];
        var columns = jacobian.shape[1];
        if (_average is not null && (_average.shape[0] != rows || _average.shape[1] != columns))
        {
            throw new ArgumentException(
                $"DB-MTL's moving average is {_average.shape[0]}×{_average.shape[1]}, but the Jacobian has shape {Jacobian.ShapeText(jacobian)}; the tasks and shared parameters must stay the same.",
                nameof(jacobian));
        }
        using (no_grad())
        {
            var gradients = jacobian.detach();
            if (scales is not null)
            {
                gradients = gradients * tensor(scales, dtype: ScalarType.Float64).to(jacobian.dtype, jacobian.device).unsqueeze(1);
            }
            if (!isfinite(gradients).all().item<bool>())
            {
                throw new ArithmeticException("DB-MTL: a (log-loss) gradient contains NaN or Inf.");
            }
            if (_average is null)
            {
                _average = zeros_like(gradients).DetachFromDisposeScope();
            }
            else if (_average.dtype != jacobian.dtype || !LossList.SameDevice(_average, jacobian))
            {
                // A restored state lives on the CPU; follow the Jacobian from here on.
                var moved = _average.to(jacobian.dtype, jacobian.device).DetachFromDisposeScope();
                _average.Dispose();
                _average = moved;
            }
            _average.mul_(Beta).add_(gradients, alpha: 1.0 - Beta);
        }
        Steps++;

        var gramian = Jacobian.Gramian(_average);
        var norms = new double[rows];
        for (var i = 0; i < rows; i++)
        {
            norms[i] = Math.Sqrt(Math.Max(gramian[i, i], 0.0));
        }
        var largest = norms.Max();
        var weights = norms.Select(n => n > 0.0 ? largest / n : 0.0).ToArray();
        _lastWeights = weights;
        return scope.MoveToOuter(Jacobian.Combine(_average, weights));
    }

    private void Reset()
    {
        _average?.Dispose();
        _average = null;
        Steps = 0;
        _lastWeights = [];
    }
}
