using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Weighting;

/// <summary>How a task's likelihood is modelled in <see cref="UncertaintyWeighting"/>.</summary>
public enum UncertaintyTaskKind
{
    /// <summary>Gaussian likelihood (Kendall et al., Eq. 7): the task contributes ½ e^(−s) L + ½ s.</summary>
    Regression,

    /// <summary>Scaled softmax likelihood (Kendall et al., Eq. 10): the task contributes e^(−s) L + ½ s.</summary>
    Classification,
}

/// <summary>
/// Uncertainty weighting, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry and
/// Semantics" (Kendall, Gal and Cipolla, CVPR 2018): each task has a learnable homoscedastic noise σ_i, learned
/// through its log variance s_i = log σ_i², and the objective is the paper's joint negative log-likelihood,
/// Eq. 7 for regression tasks (1/(2σ²) L + log σ = ½ e^(−s) L + ½ s) and Eq. 10 for classification tasks
/// (1/σ² L + log σ = e^(−s) L + ½ s), summed over the tasks.
/// </summary>
/// <remarks>
/// <para>
/// The paper's Eq. 7 and 10 are written for two tasks; for T tasks each task contributes its own term. Learning
/// s = log σ² instead of σ follows the paper's practical note (no division by zero, an unconstrained
/// parameter). At a fixed loss L the regression term is minimised at e^s = L and the classification term at
/// e^s = 2L, so a task's effective weight ∂objective/∂L_i (<see cref="ILossWeighting.LastWeights"/>) tends to
/// 1/(2L_i) either way.
/// </para>
/// <para>
/// Differences from public implementations, where we follow the paper: LibMTL and TorchJD use the regression
/// term ½ e^(−s) L + ½ s for every task (LibMTL starting from s = −0.5); many others use e^(−s) L + s, which is
/// twice the regression term (same optimum, doubled step) and, for a classification task, not the paper's
/// Eq. 10 (whose optimum is e^s = 2L, not L). The initial log variance defaults to 0 (σ = 1, unit weights for
/// regression); the paper reports the method is robust to this choice.
/// </para>
/// <para>
/// Add <see cref="parameters"/> to the optimizer; the objective's backward gives s its gradient. The log
/// variances are also written by <see cref="SaveState"/>, so a checkpoint that restores the model and this
/// state continues identically (the optimizer's own state, e.g. Adam moments, is the optimizer's to save).
/// </para>
/// </remarks>
public sealed class UncertaintyWeighting : ILearnableLossWeighting, IStateful
{
    private const string StateTag = "UncertaintyWeighting/1";

    private readonly UncertaintyTaskKind[] _kinds;
    private readonly double[] _factors;
    private double[] _lastWeights = [];

    /// <summary>Creates the weighting with every task a regression task (Eq. 7).</summary>
    /// <param name="taskCount">The number of tasks T.</param>
    /// <param name="initialLogVariance">The initial s_i = log σ_i² of every task.</param>
    /// <param name="device">Where the log variances live; must be the losses' device. CPU when null.</param>
    /// <param name="dtype">The log variances' floating-point dtype.</param>
    public UncertaintyWeighting(int taskCount, double initialLogVariance = 0.0, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : this(SameKind(taskCount, UncertaintyTaskKind.Regression), initialLogVariance, device, dtype)
    {
    }

    /// <summary>Creates the weighting with one likelihood for every task.</summary>
    /// <param name="taskCount">The number of tasks T.</param>
    /// <param name="likelihood">Regression (Eq. 7) or classification (Eq. 10), for every task.</param>
    /// <param name="initialLogVariance">The initial s_i = log σ_i² of every task.</param>
    /// <param name="device">Where the log variances live; must be the losses' device. CPU when null.</param>
    /// <param name="dtype">The log variances' floating-point dtype.</param>
    public UncertaintyWeighting(int taskCount, UncertaintyTaskKind likelihood, double initialLogVariance = 0.0, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : this(SameKind(taskCount, likelihood), initialLogVariance, device, dtype)
    {
    }

    /// <summary>Creates the weighting with one likelihood kind per task.</summary>
    /// <param name="kinds">Regression (Eq. 7) or classification (Eq. 10), per task; its length is T.</param>
    /// <param name="initialLogVariance">The initial s_i = log σ_i² of every task.</param>
    /// <param name="device">Where the log variances live; must be the losses' device. CPU when null.</param>
    /// <param name="dtype">The log variances' floating-point dtype.</param>
    public UncertaintyWeighting(IReadOnlyList<UncertaintyTaskKind> kinds, double initialLogVariance = 0.0, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        if (kinds.Count == 0)
        {
            throw new ArgumentException("At least one task is needed.", nameof(kinds));
        }
        for (var i = 0; i < kinds.Count; i++)
        {
            if (!Enum.IsDefined(kinds[i]))
            {
                throw new ArgumentOutOfRangeException(nameof(kinds), kinds[i], $"Unknown likelihood kind for task {i}.");
            }
        }
        if (!double.IsFinite(initialLogVariance))
        {
            throw new ArgumentOutOfRangeException(nameof(initialLogVariance), initialLogVariance, "The initial log variance must be finite.");
        }
        if (dtype is not (ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64))
        {
            throw new ArgumentException($"The log variances need a floating-point dtype, not {dtype}.", nameof(dtype));
        }
        _kinds = [.. kinds];
        // 1/(2σ²) = ½ e^(−s) for a Gaussian likelihood; 1/σ² = e^(−s) for the scaled softmax.
        _factors = [.. _kinds.Select(k => k == UncertaintyTaskKind.Regression ? 0.5 : 1.0)];
        var data = full(new long[] { _kinds.Length }, initialLogVariance, dtype: dtype, device: device ?? CPU);
        LogVariances = new Parameter(data, requires_grad: true);
        LogVariances.DetachFromDisposeScope();
    }

    /// <summary>The learnable log variances s_i = log σ_i², one per task (shape [T]).</summary>
    public Parameter LogVariances { get; }

    /// <summary>The likelihood kind of each task.</summary>
    public IReadOnlyList<UncertaintyTaskKind> Kinds => _kinds;

    /// <summary>The number of tasks T.</summary>
    public int TaskCount => _kinds.Length;

    /// <inheritdoc />
    public double[] LastWeights => (double[])_lastWeights.Clone();

    /// <inheritdoc />
    public IEnumerable<Parameter> parameters() => [LogVariances];

    /// <summary>Σ_i (c_i e^(−s_i) L_i + ½ s_i) with c_i = ½ (regression) or 1 (classification).</summary>
    public Tensor Combine(IReadOnlyList<Tensor> losses)
    {
        LossList.Values(losses);
        LossList.RequireTaskCount(TaskCount, losses.Count, "Uncertainty weighting");
        for (var i = 0; i < losses.Count; i++)
        {
            if (!LossList.SameDevice(losses[i], LogVariances))
            {
                throw new ArgumentException(
                    $"The loss of task {i} is on {losses[i].device}, but the log variances are on {LogVariances.device}; pass the device to the constructor.", nameof(losses));
            }
        }
        using var scope = NewDisposeScope();
        Tensor? total = null;
        for (var i = 0; i < losses.Count; i++)
        {
            var s = LogVariances[i];
            var term = LossList.Scalar(losses[i]) * s.neg().exp() * _factors[i] + s * 0.5;
            total = total is null ? term : total + term;
        }
        var logVariances = LossList.ToDoubles(LogVariances);
        _lastWeights = [.. logVariances.Select((s, i) => _factors[i] * Math.Exp(-s))];
        return scope.MoveToOuter(total!);
    }

    /// <inheritdoc />
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateTag);
        LossList.WriteArray(writer, LossList.ToDoubles(LogVariances));
    }

    /// <inheritdoc />
    public void LoadState(BinaryReader reader)
    {
        StateFormat.ReadTag(reader, StateTag, "uncertainty weighting");
        var values = LossList.ReadArray(reader, TaskCount, "uncertainty weighting", "the log variances");
        if (values.Any(v => !double.IsFinite(v)))
        {
            throw new InvalidDataException("The uncertainty weighting state holds a non-finite log variance.");
        }
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            LogVariances.copy_(tensor(values, dtype: ScalarType.Float64).to(LogVariances.dtype, LogVariances.device));
        }
    }

    private static UncertaintyTaskKind[] SameKind(int taskCount, UncertaintyTaskKind kind)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(taskCount);
        return Enumerable.Repeat(kind, taskCount).ToArray();
    }
}
