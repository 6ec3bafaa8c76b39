using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Weighting;

/// <summary>
/// GradNorm, "GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask Networks" (Chen,
/// Badrinarayanan, Lee and Rabinovich, ICML 2018), Algorithm 1: the network is trained on L = Σ_i w_i L_i, while
/// the task weights w_i are trained on L_grad = Σ_i |G_W^(i) − Ḡ_W · r_i^α| (Eq. 2), which pulls every weighted
/// gradient norm G_W^(i) = ‖∇_W w_i L_i‖₂ towards the common target of Eq. 1, with Ḡ_W the mean of the G_W^(i),
/// r_i = L̃_i / mean_j L̃_j the relative inverse training rate, L̃_i = L_i(t) / L_i(0), and the targets
/// Ḡ_W · r_i^α treated as constants. The weights start at 1 and are renormalised to sum to T after each update.
/// </summary>
/// <remarks>
/// <para>
/// W is the weight of one shared layer (the paper uses the last shared layer), given to the constructor. The T
/// norms ‖∇_W L_i‖ are taken with <c>autograd.grad(retain_graph: true)</c>, so the graph survives for the
/// caller's backward. No second-order graph is built: G_W^(i) = w_i ‖∇_W L_i‖, so ∂L_grad/∂w_i =
/// sign(G_W^(i) − target_i) ‖∇_W L_i‖ involves only the first-order norms, and Algorithm 1 updates only the
/// w_i with ∇L_grad (never W).
/// </para>
/// <para>
/// How the weights are updated: they are a <see cref="Parameter"/> (<see cref="parameters"/>) that the caller
/// adds to an optimizer. <see cref="Combine"/> returns Σ_i w̄_i L_i + Σ_i (w_i − w̄_i) ∂L_grad/∂w_i with w̄ = w
/// detached: the second sum is exactly 0, so the objective's value is L(t), its gradient with respect to the
/// network is Σ_i w_i ∇L_i, and its gradient with respect to w is exactly ∇_w L_grad, as Algorithm 1 requires
/// (and not the L_i that ∂L/∂w_i would give). One ordinary backward therefore serves both, and the order of
/// <c>zero_grad</c> does not matter. The renormalisation Σ w_i = T that Algorithm 1 performs after the update is
/// applied at the start of the next <see cref="Combine"/>, before the weights are used, which gives the same
/// weights at every use. L_i(0) is taken from the first call (or given to the constructor, e.g. log C for a
/// C-class cross-entropy, as the paper suggests when the initial loss depends strongly on the initialisation).
/// </para>
/// <para>
/// Outside the paper: the losses must be ≥ 0 and L_i(0) &gt; 0 (L̃ is a ratio of losses). If every current
/// loss is 0 the rates r_i are taken as 1. If the optimizer drives a weight to ≤ 0 (a step larger than the
/// weight), it is raised to 1e-6 before renormalising, because G_W^(i) = |w_i| ‖∇_W L_i‖ makes a negative weight
/// meaningless and would turn its task's descent into ascent. LibMTL parameterises the weights as
/// T·softmax(ω), skips the first epoch and takes L_i(0) from the first epoch's loss buffer; we follow the paper.
/// </para>
/// </remarks>
public sealed class GradNorm : ILearnableLossWeighting, IStateful
{
    private const string StateTag = "GradNorm/1";
    private const double WeightFloor = 1e-6;

    private readonly Parameter _layer;
    private double[]? _initialLosses;
    private double[] _lastWeights = [];

    /// <summary>Creates the weighting.</summary>
    /// <param name="sharedLayerWeight">W: the weight of the shared layer whose gradient norms are balanced (usually the last shared layer).</param>
    /// <param name="taskCount">The number of tasks T.</param>
    /// <param name="alpha">The asymmetry α ≥ 0 (default 1.5, as in LibMTL; 0 pulls every weighted gradient norm to their mean).</param>
    /// <param name="initialLosses">L_i(0); when null, the losses of the first <see cref="Combine"/>.</param>
    public GradNorm(Parameter sharedLayerWeight, int taskCount, double alpha = 1.5, IReadOnlyList<double>? initialLosses = null)
    {
        ArgumentNullException.ThrowIfNull(sharedLayerWeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(taskCount);
        if (!(alpha >= 0.0) || !double.IsFinite(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "α must be a finite number ≥ 0.");
        }
        if (!sharedLayerWeight.is_floating_point() || !sharedLayerWeight.requires_grad)
        {
            throw new ArgumentException("The shared layer weight must be a floating-point parameter that requires grad.", nameof(sharedLayerWeight));
        }
        if (initialLosses is not null)
        {
            if (initialLosses.Count != taskCount)
            {
                throw new ArgumentException($"Expected {taskCount} initial losses (one per task), got {initialLosses.Count}.", nameof(initialLosses));
            }
            for (var i = 0; i < taskCount; i++)
            {
                if (!(initialLosses[i] > 0.0) || !double.IsFinite(initialLosses[i]))
                {
                    throw new ArgumentOutOfRangeException(nameof(initialLosses), initialLosses[i], $"The initial loss of task {i} must be finite and > 0.");
                }
            }
            _initialLosses = [.. initialLosses];
        }
        _layer = sharedLayerWeight;
        TaskCount = taskCount;
        Alpha = alpha;
        TaskWeights = new Parameter(ones(new long[] { taskCount }, dtype: sharedLayerWeight.dtype, device: sharedLayerWeight.device), requires_grad: true);
        TaskWeights.DetachFromDisposeScope();
    }

    /// <summary>The number of tasks T.</summary>
    public int TaskCount { get; }

    /// <summary>The asymmetry α.</summary>
    public double Alpha { get; }

    /// <summary>The learnable task weights w (shape [T]); renormalised to sum to T at each <see cref="Combine"/>.</summary>
    public Parameter TaskWeights { get; }

    /// <summary>L_i(0), or null before the first <see cref="Combine"/> when not given.</summary>
    public IReadOnlyList<double>? InitialLosses => _initialLosses;

    /// <summary>‖∇_W L_i‖ of the last <see cref="Combine"/> (unweighted).</summary>
    public double[] LastGradientNorms { get; private set; } = [];

    /// <summary>L_grad (Eq. 2) of the last <see cref="Combine"/>.</summary>
    public double LastGradNormLoss { get; private set; }

    /// <inheritdoc />
    public double[] LastWeights => (double[])_lastWeights.Clone();

    /// <inheritdoc />
    public IEnumerable<Parameter> parameters() => [TaskWeights];

    /// <summary>
    /// Renormalises w, measures ‖∇_W L_i‖, and returns L(t) = Σ w_i L_i carrying ∇_w L_grad as the weights' gradient.
    /// </summary>
    /// <exception cref="ArgumentException">A loss is negative, an initial loss is 0, or a loss does not require grad.</exception>
    public Tensor Combine(IReadOnlyList<Tensor> losses)
    {
        var values = LossList.Values(losses);
        LossList.RequireTaskCount(TaskCount, values.Length, "GradNorm");
        LossList.RequireNonNegative(values, "GradNorm", "divides each loss by its initial value to get its training rate");
        for (var i = 0; i < losses.Count; i++)
        {
            if (!losses[i].requires_grad)
            {
                throw new ArgumentException($"The loss of task {i} does not require grad, so its gradient with respect to the shared layer cannot be taken.", nameof(losses));
            }
            if (!LossList.SameDevice(losses[i], TaskWeights))
            {
                throw new ArgumentException($"The loss of task {i} is on {losses[i].device}, but the shared layer is on {TaskWeights.device}.", nameof(losses));
            }
        }
        if (_initialLosses is null)
        {
            LossList.RequirePositive(values, "GradNorm", "uses the first losses as L_i(0), the denominators of the training rates");
            _initialLosses = values;
        }

        var weights = Renormalise();
        using var scope = NewDisposeScope();
        var norms = new double[TaskCount];
        for (var i = 0; i < TaskCount; i++)
        {
            // The caller back-propagates the same graph afterwards, so it must survive (a backward through a freed
            // graph terminates the process in TorchSharp).
            var gradient = autograd.grad([losses[i]], [_layer], retain_graph: true, allow_unused: true)[0];
            norms[i] = gradient.IsInvalid ? 0.0 : gradient.norm().ToDouble();
            if (!double.IsFinite(norms[i]))
            {
                throw new ArithmeticException($"The gradient of task {i} with respect to the shared layer contains NaN or Inf.");
            }
        }
        var derivative = WeightGradient(weights, norms, values, _initialLosses, Alpha, out var gradNormLoss);

        var detached = TaskWeights.detach();
        var carrier = ((TaskWeights - detached) * tensor(derivative, dtype: ScalarType.Float64).to(TaskWeights.dtype, TaskWeights.device)).sum();
        var objective = LossList.WeightedSum(losses, weights) + carrier;

        LastGradientNorms = norms;
        LastGradNormLoss = gradNormLoss;
        _lastWeights = weights;
        return scope.MoveToOuter(objective);
    }

    /// <summary>
    /// ∂L_grad/∂w_i = sign(w_i n_i − Ḡ r_i^α) n_i with the targets Ḡ r_i^α constant (Eq. 1–2), for weights w &gt; 0,
    /// gradient norms n_i = ‖∇_W L_i‖, current losses L and initial losses L(0).
    /// </summary>
    /// <param name="weights">The current task weights w (all &gt; 0).</param>
    /// <param name="norms">The unweighted gradient norms ‖∇_W L_i‖.</param>
    /// <param name="losses">The current losses L_i(t) ≥ 0.</param>
    /// <param name="initialLosses">The initial losses L_i(0) &gt; 0.</param>
    /// <param name="alpha">The asymmetry α.</param>
    /// <param name="gradNormLoss">L_grad itself.</param>
    public static double[] WeightGradient(
        IReadOnlyList<double> weights, IReadOnlyList<double> norms, IReadOnlyList<double> losses, IReadOnlyList<double> initialLosses, double alpha, out double gradNormLoss)
    {
        var taskCount = weights.Count;
        var weighted = new double[taskCount];
        var inverseRates = new double[taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            weighted[i] = Math.Abs(weights[i]) * norms[i];
            inverseRates[i] = losses[i] / initialLosses[i];
        }
        var meanNorm = weighted.Average();
        var meanRate = inverseRates.Average();
        var derivative = new double[taskCount];
        gradNormLoss = 0.0;
        for (var i = 0; i < taskCount; i++)
        {
            // Every loss at 0 leaves no task behind another: equal rates.
            var relative = meanRate > 0.0 ? inverseRates[i] / meanRate : 1.0;
            var target = meanNorm * Math.Pow(relative, alpha);
            var gap = weighted[i] - target;
            gradNormLoss += Math.Abs(gap);
            derivative[i] = Math.Sign(gap) * Math.Sign(weights[i]) * norms[i];
        }
        return derivative;
    }

    /// <inheritdoc />
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateTag);
        LossList.WriteArray(writer, LossList.ToDoubles(TaskWeights));
        writer.Write(_initialLosses is not null);
        if (_initialLosses is not null)
        {
            LossList.WriteArray(writer, _initialLosses);
        }
    }

    /// <inheritdoc />
    public void LoadState(BinaryReader reader)
    {
        StateFormat.ReadTag(reader, StateTag, "GradNorm");
        var weights = LossList.ReadArray(reader, TaskCount, "GradNorm", "the task weights");
        var initial = reader.ReadBoolean() ? LossList.ReadArray(reader, TaskCount, "GradNorm", "the initial losses") : null;
        if (weights.Any(w => !double.IsFinite(w)) || (initial is not null && initial.Any(l => !(l > 0.0) || !double.IsFinite(l))))
        {
            throw new InvalidDataException("The GradNorm state holds a non-finite weight or a non-positive initial loss.");
        }
        SetWeights(weights);
        _initialLosses = initial;
    }

    /// <summary>Projects w to positive values summing to T (Algorithm 1's renormalisation) and returns them.</summary>
    private double[] Renormalise()
    {
        var weights = LossList.ToDoubles(TaskWeights);
        var taskCount = weights.Length;
        for (var i = 0; i < taskCount; i++)
        {
            if (!double.IsFinite(weights[i]))
            {
                throw new ArithmeticException($"The GradNorm weight of task {i} is {weights[i]}; check the learning rate of the weights.");
            }
            weights[i] = Math.Max(weights[i], WeightFloor);
        }
        var sum = weights.Sum();
        for (var i = 0; i < taskCount; i++)
        {
            weights[i] *= taskCount / sum;
        }
        SetWeights(weights);
        // Read back so that the weights used below are exactly the stored (possibly float32) ones.
        return LossList.ToDoubles(TaskWeights);
    }

    private void SetWeights(double[] weights)
    {
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            TaskWeights.copy_(tensor(weights, dtype: ScalarType.Float64).to(TaskWeights.dtype, TaskWeights.device));
        }
    }
}
