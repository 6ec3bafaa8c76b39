using static TorchSharp.torch;

namespace GradientSurgery.Weighting;

/// <summary>How <see cref="FAMO"/> updates its task logits ξ from the feedback δ.</summary>
public enum FamoLogitUpdate
{
    /// <summary>
    /// The update of the paper's practical algorithm (Algorithm 2, Appendix C) and of the official code: one Adam
    /// step (β₁ = 0.9, β₂ = 0.999, ε = 1e-8, bias-corrected) on the gradient ∇_ξ z(ξ)ᵀδ + γξ.
    /// </summary>
    Adam,

    /// <summary>The plain step of Algorithm 1: ξ ← ξ − β (∇_ξ z(ξ)ᵀδ + γξ).</summary>
    GradientDescent,
}

/// <summary>
/// FAMO, "FAMO: Fast Adaptive Multitask Optimization" (Liu, Feng, Stone and Liu, NeurIPS 2023), Algorithm 1:
/// with task weights z = softmax(ξ) the model descends along d = c Σ_i (z_i / ℓ_i) ∇ℓ_i, c = (Σ_i z_i / ℓ_i)⁻¹,
/// which is the gradient of the objective c Σ_i z_i log ℓ_i with c and z held constant; after the step the logits
/// move by ξ ← ξ − β (∇_ξ z(ξ)ᵀδ + γξ), where δ_i = log ℓ_i(θ_t) − log ℓ_i(θ_{t+1}) is the decrease of task i's
/// log loss over the step. Tasks whose log loss fell less gain weight. ξ starts at 0 (uniform weights).
/// </summary>
/// <remarks>
/// <para>
/// Training loop: <c>objective = famo.Combine(losses)</c>; backward; <c>optimizer.step()</c>; then
/// <c>famo.Update(losses of the same batch recomputed after the step)</c>, exactly once per step (a second
/// <see cref="Combine"/> before the <see cref="Update"/> throws, so a forgotten feedback cannot silently turn FAMO
/// into a fixed weighting). ∇_ξ z(ξ)ᵀδ is computed in closed form, z_j (δ_j − Σ_i z_i δ_i), at the ξ that
/// produced the step's weights. <see cref="ILossWeighting.LastWeights"/> are c z_i / ℓ_i, which sum to 1 (the
/// update d is a convex combination of the task gradients).
/// </para>
/// <para>
/// Defaults: β = 0.025 (the official code and LibMTL) and γ = 0.001 (Algorithm 2 and LibMTL); the logit update
/// is the Adam step of Algorithm 2 and of the code behind the paper's experiments, and
/// <see cref="FamoLogitUpdate.GradientDescent"/> gives Algorithm 1 literally. With Algorithm 1's plain step and β = 0.025 the logits move very little, because
/// ∇_ξ zᵀδ is of the order of a per-step loss decrease; Adam normalises that scale. The optional lower bounds b_i
/// (min_losses in the official code, 0 by default) replace ℓ_i by ℓ_i − b_i everywhere.
/// </para>
/// <para>
/// Differences from public implementations: the official code and LibMTL add 1e-8 inside every logarithm; we
/// require ℓ_i − b_i &gt; 0 instead (an exception names the task), so the objective is exactly the paper's. The
/// official repository uses other decays (0.01 in its famo.py); its example also clips the model's gradient
/// norm, which is the caller's choice and not part of the method.
/// </para>
/// </remarks>
public sealed class FAMO : IFeedbackLossWeighting, IStateful
{
    private const string StateTag = "FAMO/1";
    private const double AdamBeta1 = 0.9;
    private const double AdamBeta2 = 0.999;
    private const double AdamEpsilon = 1e-8;

    private readonly double[]? _lowerBounds;
    private int _taskCount;
    private double[] _logits = [];
    private double[] _firstMoment = [];
    private double[] _secondMoment = [];
    private long _adamSteps;
    private double[]? _pendingShifted;
    private double[] _lastWeights = [];

    /// <summary>Creates the weighting.</summary>
    /// <param name="logitLearningRate">β &gt; 0, the step size of the logits (0.025).</param>
    /// <param name="decay">γ ≥ 0, the regularisation pulling the logits back to 0 (0.001).</param>
    /// <param name="update">The logit update: Adam (Algorithm 2, the default) or the plain step of Algorithm 1.</param>
    /// <param name="lowerBounds">Optional b_i with ℓ_i &gt; b_i (known minimal losses); zeros when null.</param>
    public FAMO(double logitLearningRate = 0.025, double decay = 1e-3, FamoLogitUpdate update = FamoLogitUpdate.Adam, IReadOnlyList<double>? lowerBounds = null)
    {
        if (!(logitLearningRate > 0.0) || !double.IsFinite(logitLearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(logitLearningRate), logitLearningRate, "The logit learning rate β must be a finite number > 0.");
        }
        if (!(decay >= 0.0) || !double.IsFinite(decay))
        {
            throw new ArgumentOutOfRangeException(nameof(decay), decay, "The decay γ must be a finite number ≥ 0.");
        }
        if (!Enum.IsDefined(update))
        {
            throw new ArgumentOutOfRangeException(nameof(update), update, "Unknown logit update.");
        }
        if (lowerBounds is not null)
        {
            if (lowerBounds.Count == 0)
            {
                throw new ArgumentException("The lower bounds are empty; pass null for zeros or one bound per task.", nameof(lowerBounds));
            }
            for (var i = 0; i < lowerBounds.Count; i++)
            {
                if (!double.IsFinite(lowerBounds[i]))
                {
                    throw new ArgumentOutOfRangeException(nameof(lowerBounds), lowerBounds[i], $"The lower bound of task {i} must be finite.");
                }
            }
            _lowerBounds = [.. lowerBounds];
        }
        LogitLearningRate = logitLearningRate;
        Decay = decay;
        LogitUpdate = update;
    }

    /// <summary>β, the step size of the logits.</summary>
    public double LogitLearningRate { get; }

    /// <summary>γ, the decay of the logits.</summary>
    public double Decay { get; }

    /// <summary>How the logits are updated.</summary>
    public FamoLogitUpdate LogitUpdate { get; }

    /// <summary>The logits ξ (a copy); empty before the first <see cref="Combine"/>.</summary>
    public double[] Logits => (double[])_logits.Clone();

    /// <summary>z = softmax(ξ), the task weights of the next step; empty before the first <see cref="Combine"/>.</summary>
    public double[] TaskWeights => _taskCount == 0 ? [] : Softmax(_logits);

    /// <summary>Whether a <see cref="Combine"/> awaits its <see cref="Update"/>.</summary>
    public bool AwaitingFeedback => _pendingShifted is not null;

    /// <inheritdoc />
    public double[] LastWeights => (double[])_lastWeights.Clone();

    /// <summary>c Σ_i z_i log(ℓ_i − b_i), with c and z constants; remembers the losses for <see cref="Update"/>.</summary>
    /// <exception cref="InvalidOperationException">The previous <see cref="Combine"/> has not received its <see cref="Update"/>.</exception>
    public Tensor Combine(IReadOnlyList<Tensor> losses)
    {
        var values = LossList.Values(losses);
        if (_pendingShifted is not null)
        {
            throw new InvalidOperationException(
                "FAMO: Combine was called again before Update. After each optimizer step, call Update with the same batch's losses recomputed after the step.");
        }
        if (_taskCount == 0)
        {
            Start(values.Length);
        }
        LossList.RequireTaskCount(_taskCount, values.Length, "FAMO");
        var shifted = Shift(values, nameof(losses));
        var z = Softmax(_logits);
        var inverse = 0.0;
        for (var i = 0; i < _taskCount; i++)
        {
            inverse += z[i] / shifted[i];
        }
        var c = 1.0 / inverse;

        using var scope = NewDisposeScope();
        Tensor? objective = null;
        for (var i = 0; i < _taskCount; i++)
        {
            var loss = LossList.Scalar(losses[i]);
            var term = (_lowerBounds is null ? loss : loss - _lowerBounds[i]).log() * (c * z[i]);
            objective = objective is null ? term : objective + term;
        }
        _pendingShifted = shifted;
        _lastWeights = [.. z.Select((zi, i) => c * zi / shifted[i])];
        return scope.MoveToOuter(objective!);
    }

    /// <summary>Updates ξ from δ_i = log(ℓ_i − b_i) before the step − log(ℓ_i − b_i) after it.</summary>
    public void Update(IReadOnlyList<Tensor> lossesAfterStep)
    {
        var values = LossList.Values(lossesAfterStep, nameof(lossesAfterStep));
        if (_pendingShifted is null)
        {
            throw new InvalidOperationException("FAMO: Update was called without a preceding Combine; call it once after each step, with the losses after the step.");
        }
        LossList.RequireTaskCount(_taskCount, values.Length, "FAMO", nameof(lossesAfterStep));
        var after = Shift(values, nameof(lossesAfterStep));
        var decrease = new double[_taskCount];
        for (var i = 0; i < _taskCount; i++)
        {
            decrease[i] = Math.Log(_pendingShifted[i]) - Math.Log(after[i]);
        }
        var gradient = LogitGradient(_logits, decrease);
        for (var i = 0; i < _taskCount; i++)
        {
            gradient[i] += Decay * _logits[i];
        }
        if (LogitUpdate == FamoLogitUpdate.GradientDescent)
        {
            for (var i = 0; i < _taskCount; i++)
            {
                _logits[i] -= LogitLearningRate * gradient[i];
            }
        }
        else
        {
            AdamStep(gradient);
        }
        _pendingShifted = null;
    }

    /// <summary>∇_ξ z(ξ)ᵀδ for z = softmax(ξ): component j is z_j (δ_j − Σ_i z_i δ_i).</summary>
    public static double[] LogitGradient(IReadOnlyList<double> logits, IReadOnlyList<double> decrease)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(decrease);
        if (logits.Count != decrease.Count)
        {
            throw new ArgumentException($"Expected {logits.Count} loss decreases, got {decrease.Count}.", nameof(decrease));
        }
        var z = Softmax(logits);
        var mean = 0.0;
        for (var i = 0; i < z.Length; i++)
        {
            mean += z[i] * decrease[i];
        }
        return [.. z.Select((zj, j) => zj * (decrease[j] - mean))];
    }

    /// <inheritdoc />
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateTag);
        writer.Write(_taskCount);
        if (_taskCount == 0)
        {
            return;
        }
        LossList.WriteArray(writer, _logits);
        LossList.WriteArray(writer, _firstMoment);
        LossList.WriteArray(writer, _secondMoment);
        writer.Write(_adamSteps);
        writer.Write(_pendingShifted is not null);
        if (_pendingShifted is not null)
        {
            LossList.WriteArray(writer, _pendingShifted);
        }
    }

    /// <inheritdoc />
    public void LoadState(BinaryReader reader)
    {
        StateFormat.ReadTag(reader, StateTag, "FAMO");
        var taskCount = reader.ReadInt32();
        if (taskCount < 0 || (_lowerBounds is not null && taskCount != 0 && taskCount != _lowerBounds.Length))
        {
            throw new InvalidDataException($"The FAMO state is for {taskCount} tasks, which does not fit this instance.");
        }
        if (taskCount == 0)
        {
            _taskCount = 0;
            _logits = _firstMoment = _secondMoment = [];
            _adamSteps = 0;
            _pendingShifted = null;
            _lastWeights = [];
            return;
        }
        var logits = LossList.ReadArray(reader, taskCount, "FAMO", "the logits");
        var first = LossList.ReadArray(reader, taskCount, "FAMO", "Adam's first moments");
        var second = LossList.ReadArray(reader, taskCount, "FAMO", "Adam's second moments");
        var steps = reader.ReadInt64();
        var pending = reader.ReadBoolean() ? LossList.ReadArray(reader, taskCount, "FAMO", "the pending losses") : null;
        if (steps < 0 || logits.Concat(first).Concat(second).Any(v => !double.IsFinite(v)) || second.Any(v => v < 0.0)
            || (pending is not null && pending.Any(v => !(v > 0.0) || !double.IsFinite(v))))
        {
            throw new InvalidDataException("The FAMO state holds invalid values.");
        }
        _taskCount = taskCount;
        _logits = logits;
        _firstMoment = first;
        _secondMoment = second;
        _adamSteps = steps;
        _pendingShifted = pending;
        _lastWeights = [];
    }

    private void Start(int taskCount)
    {
        if (_lowerBounds is not null && _lowerBounds.Length != taskCount)
        {
            throw new ArgumentException($"FAMO has {_lowerBounds.Length} lower bounds, but {taskCount} losses were given.", "losses");
        }
        _taskCount = taskCount;
        _logits = new double[taskCount];
        _firstMoment = new double[taskCount];
        _secondMoment = new double[taskCount];
        _adamSteps = 0;
    }

    private double[] Shift(double[] values, string parameterName)
    {
        var shifted = new double[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            var bound = _lowerBounds?[i] ?? 0.0;
            shifted[i] = values[i] - bound;
            if (!(shifted[i] > 0.0))
            {
                throw new ArgumentException(
                    $"The loss of task {i} is {values[i]}, but FAMO takes log(ℓ − b) with lower bound b = {bound}, so the loss must exceed its lower bound.", parameterName);
            }
        }
        return shifted;
    }

    // The same arithmetic as torch.optim.Adam with weight_decay folded into the gradient (done by the caller).
    private void AdamStep(double[] gradient)
    {
        _adamSteps++;
        var correction1 = 1.0 - Math.Pow(AdamBeta1, _adamSteps);
        var correction2 = 1.0 - Math.Pow(AdamBeta2, _adamSteps);
        for (var i = 0; i < _taskCount; i++)
        {
            _firstMoment[i] = AdamBeta1 * _firstMoment[i] + (1.0 - AdamBeta1) * gradient[i];
            _secondMoment[i] = AdamBeta2 * _secondMoment[i] + (1.0 - AdamBeta2) * gradient[i] * gradient[i];
            var denominator = Math.Sqrt(_secondMoment[i]) / Math.Sqrt(correction2) + AdamEpsilon;
            _logits[i] -= LogitLearningRate / correction1 * _firstMoment[i] / denominator;
        }
    }

    private static double[] Softmax(IReadOnlyList<double> logits)
    {
        var largest = logits.Max();
        var result = logits.Select(x => Math.Exp(x - largest)).ToArray();
        var sum = result.Sum();
        for (var i = 0; i < result.Length; i++)
        {
            result[i] /= sum;
        }
        return result;
    }
}
