using System.Diagnostics;
using GradientSurgery.Aggregation;
using GradientSurgery.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// The multi-task counterpart of <c>loss.backward()</c>: from T scalar losses it fills <c>.grad</c> so that
/// <c>optimizer.step()</c> performs gradient surgery on the shared parameters.
/// </summary>
/// <remarks>
/// <para>
/// losses → per-task Jacobian J (T×P) of the shared parameters → Gramian → weights → <c>.grad</c>. Shared
/// parameters receive the aggregator's update of J. Every task-specific parameter (a head) receives exactly
/// its own task's gradient, never a projected or averaged one; a non-shared parameter that more than one
/// task's loss depends on is refused, because it would silently escape the surgery.
/// </para>
/// <para>
/// Gradients are accumulated into <c>.grad</c>, as <c>loss.backward()</c> does; zero them between steps
/// (<see cref="AggregationStep"/> does). Nothing is written unless every check passes. All temporaries live
/// in a dispose scope, so repeated calls do not grow native memory; the T×P Jacobian's storage is kept between
/// calls (aggregators must not hold on to the Jacobian tensor after <c>Aggregate</c> returns) and freed by
/// <see cref="Dispose"/>. An instance is not thread-safe.
/// </para>
/// </remarks>
public sealed class MultiTaskBackward : IDisposable
{
    private readonly Parameter[] _shared;
    private readonly Parameter[] _taskSpecific;
    private readonly long[] _offsets;
    private readonly long _sharedSize;

    // The T×P Jacobian is written in full at every step; keeping its storage avoids allocating (and page-faulting
    // in) T·P fresh floats per step, which costs more than the surgery itself at large T.
    private Tensor? _jacobian;

    /// <summary>Creates the backward for one model.</summary>
    /// <param name="aggregator">Combines the shared-parameter Jacobian into one update (e.g. <see cref="PCGrad"/>).</param>
    /// <param name="sharedParameters">The parameters every task depends on (the trunk). Same dtype and device.</param>
    /// <param name="taskSpecificParameters">
    /// All other trainable parameters (the heads). Each receives its own task's gradient.
    /// </param>
    public MultiTaskBackward(IAggregator aggregator, IEnumerable<Parameter> sharedParameters, IEnumerable<Parameter> taskSpecificParameters)
    {
        ArgumentNullException.ThrowIfNull(aggregator);
        ArgumentNullException.ThrowIfNull(sharedParameters);
        ArgumentNullException.ThrowIfNull(taskSpecificParameters);
        Aggregator = aggregator;
        _shared = sharedParameters.Where(p => p.requires_grad).ToArray();
        _taskSpecific = taskSpecificParameters.Where(p => p.requires_grad).ToArray();
        if (_shared.Length == 0)
        {
            throw new ArgumentException("At least one shared parameter that requires grad is needed.", nameof(sharedParameters));
        }
        var first = _shared[0];
        if (!first.is_floating_point())
        {
            throw new ArgumentException($"Shared parameter 0 has dtype {first.dtype}; shared parameters must be floating point.", nameof(sharedParameters));
        }
        var handles = new HashSet<IntPtr>();
        _offsets = new long[_shared.Length];
        for (var k = 0; k < _shared.Length; k++)
        {
            var p = _shared[k];
            if (p.dtype != first.dtype || !SameDevice(p, first))
            {
                throw new ArgumentException(
                    $"Shared parameter {k} (shape {Jacobian.ShapeText(p)}) is {p.dtype} on {p.device}, but shared parameter 0 is {first.dtype} on {first.device}; " +
                    "all shared parameters must have one dtype and device.", nameof(sharedParameters));
            }
            if (!handles.Add(p.Handle))
            {
                throw new ArgumentException($"Shared parameter {k} (shape {Jacobian.ShapeText(p)}) is listed twice.", nameof(sharedParameters));
            }
            _offsets[k] = _sharedSize;
            _sharedSize += p.numel();
        }
        for (var k = 0; k < _taskSpecific.Length; k++)
        {
            if (!handles.Add(_taskSpecific[k].Handle))
            {
                throw new ArgumentException(
                    $"Task-specific parameter {k} (shape {Jacobian.ShapeText(_taskSpecific[k])}) is also shared or listed twice.", nameof(taskSpecificParameters));
            }
        }
    }

    /// <summary>The aggregator applied to the shared parameters' Jacobian.</summary>
    public IAggregator Aggregator { get; }

    /// <summary>Number of shared scalar parameters P (the Jacobian's width).</summary>
    public long SharedParameterCount => _sharedSize;

    /// <summary>
    /// Parameters path: T vector-Jacobian products of the losses with respect to the shared (and
    /// task-specific) parameters, each through the whole graph.
    /// </summary>
    public StepReport Backward(IReadOnlyList<Tensor> losses) => Run(losses, features: null);

    /// <summary>
    /// Features path, for a shared trunk followed by task heads (like TorchJD's <c>mtl_backward</c>): each
    /// task's gradient with respect to the trunk's output <paramref name="sharedFeatures"/> is taken through
    /// its head, then T vector-Jacobian products run through the trunk only; the trunk's graph is freed after
    /// the last one. Gives the same result as the parameters path.
    /// </summary>
    public StepReport Backward(IReadOnlyList<Tensor> losses, Tensor sharedFeatures)
    {
        ArgumentNullException.ThrowIfNull(sharedFeatures);
        return Run(losses, [sharedFeatures]);
    }

    /// <summary>Features path with several shared feature tensors (e.g. a trunk with multiple outputs).</summary>
    public StepReport Backward(IReadOnlyList<Tensor> losses, IReadOnlyList<Tensor> sharedFeatures)
    {
        ArgumentNullException.ThrowIfNull(sharedFeatures);
        if (sharedFeatures.Count == 0)
        {
            throw new ArgumentException("At least one shared feature tensor is needed for the features path.", nameof(sharedFeatures));
        }
        return Run(losses, sharedFeatures);
    }

    private StepReport Run(IReadOnlyList<Tensor> losses, IReadOnlyList<Tensor>? features)
    {
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        var gradientTime = TimeSpan.Zero;
        var lossValues = ValidateLosses(losses);
        if (Aggregator is ILossTransform transform)
        {
            losses = [.. losses.Select(transform.Transform)];
            try
            {
                ValidateLosses(losses);
            }
            catch (ArithmeticException notFinite)
            {
                throw new ArithmeticException($"{notFinite.Message} (after {Aggregator.GetType().Name}'s loss transform; raw losses {string.Join(", ", lossValues)})", notFinite);
            }
        }
        var taskCount = losses.Count;
        var headGradients = new Tensor?[_taskSpecific.Length];
        var headOwners = new int[_taskSpecific.Length];
        Array.Fill(headOwners, -1);

        double[,]? gramian = null;
        double[]? weights = null;
        Tensor update;
        var conflictScope = GradientScope.SharedParameters;
        if (features is not null && Aggregator is IRepresentationWeighting representation)
        {
            var featureGradients = FeatureGradients(losses, features, headGradients, headOwners);
            gradientTime = clock.Elapsed;
            var featureJacobian = stack(featureGradients.Select(perTask => cat(perTask.Select(g => g.reshape(-1)).ToArray())).ToArray());
            gramian = FiniteGramian(featureJacobian, "the shared features");
            EnsureFinite(headGradients, headOwners);
            weights = representation.RepresentationWeights(gramian);
            conflictScope = GradientScope.SharedFeatures;
            var beforeTrunk = clock.Elapsed;
            update = CombineThroughTrunk(features, featureGradients, weights);
            // The single pass through the trunk is gradient work, not surgery.
            gradientTime += clock.Elapsed - beforeTrunk;
        }
        else
        {
            var jacobian = JacobianBuffer(taskCount);
            if (features is null)
            {
                FillByParameters(losses, jacobian, headGradients, headOwners);
            }
            else
            {
                FillByFeatures(losses, features, jacobian, headGradients, headOwners);
            }
            gradientTime = clock.Elapsed;
            gramian = FiniteGramian(jacobian, "the shared parameters");
            EnsureFinite(headGradients, headOwners);
            if (Aggregator is ILossAwareGramianWeighting lossAware)
            {
                weights = lossAware.Weights(gramian, lossValues);
                update = Jacobian.Combine(jacobian, weights);
            }
            else if (Aggregator is IGramianWeighting weighting)
            {
                weights = weighting.Weights(gramian);
                update = Jacobian.Combine(jacobian, weights);
            }
            else
            {
                update = Aggregator.Aggregate(jacobian);
                if (update.dim() != 1 || update.shape[0] != _sharedSize)
                {
                    throw new InvalidOperationException(
                        $"{Aggregator.GetType().Name} returned shape {Jacobian.ShapeText(update)}; expected [{_sharedSize}].");
                }
            }
        }
        var conflicts = ConflictReport.FromGramian(gramian);

        using (no_grad())
        {
            for (var k = 0; k < _shared.Length; k++)
            {
                Accumulate(_shared[k], update.narrow(0, _offsets[k], _shared[k].numel()).view_as(_shared[k]));
            }
            for (var k = 0; k < _taskSpecific.Length; k++)
            {
                if (headGradients[k] is { } gradient)
                {
                    Accumulate(_taskSpecific[k], gradient);
                }
            }
        }
        return new StepReport(lossValues, weights, conflicts, conflictScope, new StepTimings(gradientTime, clock.Elapsed - gradientTime));
    }

    private double[] ValidateLosses(IReadOnlyList<Tensor> losses)
    {
        ArgumentNullException.ThrowIfNull(losses);
        if (losses.Count == 0)
        {
            throw new ArgumentException("The list of task losses is empty; pass one scalar loss per task.", nameof(losses));
        }
        var values = new double[losses.Count];
        for (var i = 0; i < losses.Count; i++)
        {
            var loss = losses[i] ?? throw new ArgumentException($"The loss of task {i} is null.", nameof(losses));
            if (loss.numel() != 1)
            {
                throw new ArgumentException(
                    $"The loss of task {i} is not a scalar: it has shape {Jacobian.ShapeText(loss)}. Reduce it (e.g. with .mean()) first.", nameof(losses));
            }
            if (!loss.is_floating_point())
            {
                throw new ArgumentException($"The loss of task {i} has dtype {loss.dtype}; a loss must be floating point.", nameof(losses));
            }
            if (!SameDevice(loss, _shared[0]))
            {
                throw new ArgumentException(
                    $"The loss of task {i} is on {loss.device}, but the shared parameters are on {_shared[0].device}.", nameof(losses));
            }
            if (!loss.requires_grad)
            {
                throw NotConnected(i, "it does not require grad");
            }
            values[i] = loss.ToDouble();
            if (!double.IsFinite(values[i]))
            {
                throw new ArithmeticException($"The loss of task {i} is {values[i]}; no gradient was written.");
            }
        }
        return values;
    }

    private void FillByParameters(IReadOnlyList<Tensor> losses, Tensor jacobian, Tensor?[] headGradients, int[] headOwners)
    {
        Tensor[] inputs = [.. _shared, .. _taskSpecific];
        for (var i = 0; i < losses.Count; i++)
        {
            var gradients = autograd.grad([losses[i]], inputs, retain_graph: i < losses.Count - 1, allow_unused: true);
            if (!CopyRow(jacobian, i, gradients))
            {
                throw NotConnected(i, "none of the shared parameters receives a gradient from it");
            }
            CollectHeads(i, gradients, _shared.Length, headGradients, headOwners);
        }
    }

    private void FillByFeatures(IReadOnlyList<Tensor> losses, IReadOnlyList<Tensor> features, Tensor jacobian, Tensor?[] headGradients, int[] headOwners)
    {
        ValidateFeatures(features);
        Tensor[] featureList = [.. features];
        Tensor[] headInputs = [.. features, .. _taskSpecific];
        for (var i = 0; i < losses.Count; i++)
        {
            // One task at a time through its head and then the trunk, so that only one task's feature gradient (B×F)
            // is alive at once rather than T of them next to the Jacobian (20 MiB at T = 40 in the step benchmark).
            var featureGradient = FeatureGradient(i, losses[i], features, headInputs, headGradients, headOwners);
            var gradients = autograd.grad(featureList, _shared, featureGradient, retain_graph: i < losses.Count - 1, allow_unused: true);
            foreach (var gradient in featureGradient)
            {
                gradient.Dispose();
            }
            if (!CopyRow(jacobian, i, gradients))
            {
                throw FeaturesNotConnected();
            }
        }
    }

    /// <summary>Each task's gradient with respect to the shared features, through its head only; collects the heads' own gradients.</summary>
    private Tensor[][] FeatureGradients(IReadOnlyList<Tensor> losses, IReadOnlyList<Tensor> features, Tensor?[] headGradients, int[] headOwners)
    {
        ValidateFeatures(features);
        Tensor[] headInputs = [.. features, .. _taskSpecific];
        return [.. losses.Select((loss, i) => FeatureGradient(i, loss, features, headInputs, headGradients, headOwners))];
    }

    private void ValidateFeatures(IReadOnlyList<Tensor> features)
    {
        for (var f = 0; f < features.Count; f++)
        {
            var feature = features[f] ?? throw new ArgumentException($"Shared feature tensor {f} is null.", nameof(features));
            if (!feature.requires_grad)
            {
                throw new ArgumentException(
                    $"Shared feature tensor {f} (shape {Jacobian.ShapeText(feature)}) does not require grad, so it is not connected to the shared parameters.", nameof(features));
            }
            if (!SameDevice(feature, _shared[0]))
            {
                throw new ArgumentException($"Shared feature tensor {f} is on {feature.device}, but the shared parameters are on {_shared[0].device}.", nameof(features));
            }
        }
    }

    /// <summary>Task <paramref name="task"/>'s gradient with respect to each shared feature tensor, through its head; records its head's gradients.</summary>
    private Tensor[] FeatureGradient(int task, Tensor loss, IReadOnlyList<Tensor> features, Tensor[] headInputs, Tensor?[] headGradients, int[] headOwners)
    {
        // The trunk's graph must survive for the pass(es) through it; the heads' parts are released with the losses.
        var gradients = autograd.grad([loss], headInputs, retain_graph: true, allow_unused: true);
        if (!gradients.Take(features.Count).Any(g => !g.IsInvalid))
        {
            throw NotConnected(task, "none of the shared feature tensors receives a gradient from it");
        }
        CollectHeads(task, gradients, features.Count, headGradients, headOwners);
        return [.. features.Select((feature, f) => gradients[f].IsInvalid ? zeros_like(feature) : gradients[f])];
    }

    /// <summary>Σ_i w_i ∂L_i/∂θ as one vector-Jacobian product of the trunk with Σ_i w_i ∂L_i/∂z (frees the trunk's graph).</summary>
    private Tensor CombineThroughTrunk(IReadOnlyList<Tensor> features, Tensor[][] featureGradients, double[] weights)
    {
        var combined = features.Select((_, f) =>
            featureGradients.Select((perTask, i) => perTask[f] * weights[i]).Aggregate((a, b) => a + b)).ToArray();
        var gradients = autograd.grad([.. features], _shared, combined, retain_graph: false, allow_unused: true);
        var update = zeros(_sharedSize, dtype: _shared[0].dtype, device: _shared[0].device);
        var connected = false;
        for (var k = 0; k < _shared.Length; k++)
        {
            if (!gradients[k].IsInvalid)
            {
                update.narrow(0, _offsets[k], _shared[k].numel()).copy_(gradients[k].reshape(-1));
                connected = true;
            }
        }
        if (!connected)
        {
            throw FeaturesNotConnected();
        }
        if (!isfinite(update).all().item<bool>())
        {
            throw new ArithmeticException("The weighted gradient with respect to the shared parameters contains NaN or Inf; no gradient was written." + NonFiniteGradient.Advice);
        }
        return update;
    }

    private static ArgumentException FeaturesNotConnected() => new(
        "None of the shared parameters receives a gradient through the shared features; pass the trunk's output as the features.", "features");

    /// <summary>Writes the shared-parameter gradients into row <paramref name="row"/>; false when none is connected.</summary>
    private bool CopyRow(Tensor jacobian, int row, IList<Tensor> gradients)
    {
        var connected = false;
        var target = jacobian[row];
        for (var k = 0; k < _shared.Length; k++)
        {
            var slice = target.narrow(0, _offsets[k], _shared[k].numel());
            if (gradients[k].IsInvalid)
            {
                // A parameter this task does not reach has a zero gradient (the buffer holds the previous step's).
                slice.zero_();
            }
            else
            {
                // The row now holds it: release the P-sized gradient (and the flat view that shares its storage) at
                // once rather than at the end of the step, so that a step never keeps T gradients and the Jacobian
                // alive together.
                using (var flat = gradients[k].reshape(-1))
                {
                    slice.copy_(flat);
                }
                gradients[k].Dispose();
                connected = true;
            }
        }
        return connected;
    }

    private void CollectHeads(int task, IList<Tensor> gradients, int first, Tensor?[] headGradients, int[] headOwners)
    {
        for (var k = 0; k < _taskSpecific.Length; k++)
        {
            var gradient = gradients[first + k];
            if (gradient.IsInvalid)
            {
                continue;
            }
            if (headOwners[k] >= 0)
            {
                throw new InvalidOperationException(
                    $"Task-specific parameter {k} (shape {Jacobian.ShapeText(_taskSpecific[k])}) receives gradients from tasks {headOwners[k]} and {task}. " +
                    "A parameter used by several tasks is shared: declare it with the shared parameters so that it takes part in the surgery.");
            }
            headOwners[k] = task;
            headGradients[k] = gradient;
        }
    }

    /// <summary>
    /// The Gramian, which also serves as the NaN/Inf check: a NaN or ±Inf anywhere in row i makes G_ii non-finite,
    /// so the P-sized Jacobian is scanned only when a diagonal entry says something is wrong.
    /// </summary>
    private static double[,] FiniteGramian(Tensor jacobian, string withRespectTo)
    {
        var gramian = Jacobian.Gramian(jacobian);
        for (var task = 0; task < gramian.GetLength(0); task++)
        {
            if (double.IsFinite(gramian[task, task]))
            {
                continue;
            }
            if (!isfinite(jacobian[task]).all().item<bool>())
            {
                throw new ArithmeticException($"The gradient of task {task} with respect to {withRespectTo} contains NaN or Inf; no gradient was written." + NonFiniteGradient.Advice);
            }
            throw new ArithmeticException(
                $"The gradient of task {task} with respect to {withRespectTo} is finite but too large for its squared norm to be represented in {jacobian.dtype}; no gradient was written.");
        }
        return gramian;
    }

    private void EnsureFinite(Tensor?[] headGradients, int[] headOwners)
    {
        if (NonFiniteGradient.FirstNonFinite(headGradients) is { } k)
        {
            throw new ArithmeticException(
                $"The gradient of task {headOwners[k]} with respect to its task-specific parameter {k} (shape {Jacobian.ShapeText(_taskSpecific[k])}) contains NaN or Inf; no gradient was written." + NonFiniteGradient.Advice);
        }
    }

    /// <summary>Frees the reusable Jacobian storage.</summary>
    public void Dispose()
    {
        _jacobian?.Dispose();
        _jacobian = null;
    }

    private Tensor JacobianBuffer(int taskCount)
    {
        if (_jacobian is null || _jacobian.IsInvalid || _jacobian.shape[0] != taskCount)
        {
            _jacobian?.Dispose();
            _jacobian = empty(taskCount, _sharedSize, dtype: _shared[0].dtype, device: _shared[0].device).DetachFromDisposeScope();
        }
        return _jacobian;
    }

    private static void Accumulate(Parameter parameter, Tensor gradient)
    {
        var existing = parameter.grad;
        if (existing is null || existing.IsInvalid)
        {
            parameter.grad = gradient.requires_grad ? gradient.detach() : gradient;
        }
        else
        {
            existing.add_(gradient);
        }
    }

    // Device objects compare by reference in TorchSharp.
    private static bool SameDevice(Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;

    private static ArgumentException NotConnected(int task, string why) =>
        new($"The loss of task {task} is not connected to the shared parameters: {why}.", "losses");
}
