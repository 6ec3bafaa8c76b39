using System.Diagnostics;
using GradientSurgery.Aggregation;
using GradientSurgery.Weighting;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// The training step of a loss weighting, exactly as <see cref="ILossWeighting"/>'s remarks prescribe:
/// <c>objective = weighting.Combine(losses)</c>, <c>zero_grad()</c> (to none), <c>objective.backward()</c>, <c>step()</c>,
/// then, for an <see cref="IFeedbackLossWeighting"/> (FAMO), <c>Update</c> with the same batch's losses recomputed
/// after the step under <c>no_grad</c>.
/// </summary>
/// <remarks>
/// <para>
/// The optimizer must hold the model's parameters and, for an <see cref="ILearnableLossWeighting"/>, the
/// weighting's parameters (checked here, since weights the optimizer does not hold would never move). Epoch
/// boundaries are the caller's to report with <see cref="EndEpoch"/> (DWA averages the losses of each epoch).
/// </para>
/// <para>
/// Unlike <see cref="AggregationStep"/> there is no per-task Jacobian, so the step costs one backward pass
/// and reports no conflict diagnostics. With task-owned parameters (a cross-stitch column that other tasks read) it
/// costs one more backward pass per task: an owned parameter receives ∂objective/∂L_i · ∂L_i/∂θ for its owner i
/// only, the same rule <see cref="AggregationStep"/> applies.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// var weighting = MethodCatalog.CreateLossWeighting("famo", seed, new LossWeightingContext(2));
/// var learnable = (weighting as ILearnableLossWeighting)?.parameters() ?? [];
/// using var step = new LossWeightingStep(torch.optim.Adam(model.parameters().Concat(learnable)), weighting);
/// var report = step.Step(Losses(batch), () => Losses(batch));
/// </code>
/// </example>
public sealed class LossWeightingStep : IMultiTaskStep
{
    // Task i's own parameters, and every other parameter of the optimizer; null/empty without declared owners.
    private readonly Parameter[][]? _owned;
    private readonly Parameter[] _unowned = [];

    /// <summary>Creates the step.</summary>
    /// <param name="optimizer">The optimizer over the model's parameters and the weighting's learnable parameters.</param>
    /// <param name="weighting">The loss weighting.</param>
    /// <param name="taskParameters">
    /// Optionally, task i's own parameters in list i: each receives its owner's share of the objective's gradient
    /// only, even when other tasks' losses read it.
    /// </param>
    /// <exception cref="ArgumentException">A learnable parameter of the weighting is not among the optimizer's parameters, or an owned parameter is not.</exception>
    public LossWeightingStep(optim.Optimizer optimizer, ILossWeighting weighting, IReadOnlyList<IEnumerable<Parameter>>? taskParameters = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(weighting);
        if (weighting is ILearnableLossWeighting learnable)
        {
            var optimized = optimizer.parameters().Select(p => p.Handle).ToHashSet();
            var missing = learnable.parameters().Select((p, k) => (Parameter: p, Index: k)).FirstOrDefault(p => !optimized.Contains(p.Parameter.Handle));
            if (missing.Parameter is not null)
            {
                throw new ArgumentException(
                    $"Learnable parameter {missing.Index} of {weighting.GetType().Name} is not among the optimizer's parameters, so it would never be updated; add its parameters() to the optimizer.",
                    nameof(optimizer));
            }
        }
        Optimizer = optimizer;
        Weighting = weighting;
        if (taskParameters is not null)
        {
            var optimized = optimizer.parameters().Where(p => p.requires_grad).ToArray();
            var owned = taskParameters.Select(list => list.Where(p => p.requires_grad).ToArray()).ToArray();
            var ownedHandles = owned.SelectMany(list => list).Select(p => p.Handle).ToHashSet();
            if (ownedHandles.Count != owned.Sum(list => list.Length))
            {
                throw new ArgumentException("A parameter is listed as the own parameter of two tasks (or twice); a parameter of several tasks is shared.", nameof(taskParameters));
            }
            var optimizedHandles = optimized.Select(p => p.Handle).ToHashSet();
            if (ownedHandles.Any(h => !optimizedHandles.Contains(h)))
            {
                throw new ArgumentException("A task's own parameter is not among the optimizer's parameters, so it would never be updated.", nameof(taskParameters));
            }
            _owned = owned;
            _unowned = [.. optimized.Where(p => !ownedHandles.Contains(p.Handle))];
        }
    }

    /// <inheritdoc/>
    public optim.Optimizer Optimizer { get; }

    /// <summary>The loss weighting.</summary>
    public ILossWeighting Weighting { get; }

    /// <inheritdoc/>
    public bool NeedsLossesAfterStep => Weighting is IFeedbackLossWeighting;

    /// <summary>Combine, zero_grad, backward, step and, for a feedback weighting, its update.</summary>
    /// <param name="losses">The T task losses of the batch, with their graph.</param>
    /// <param name="lossesAfterStep">
    /// Recomputes the same batch's losses with the updated model; called once, under <c>no_grad</c>, after the
    /// step. Required when <see cref="NeedsLossesAfterStep"/>, ignored otherwise.
    /// </param>
    /// <exception cref="ArgumentException">Bad losses (see <see cref="ILossWeighting.Combine"/>), or no <paramref name="lossesAfterStep"/> for a feedback weighting; nothing was changed.</exception>
    /// <exception cref="ArithmeticException">A loss or a gradient of the objective contains NaN or Inf; the gradients were cleared and no parameter was changed.</exception>
    /// <exception cref="InvalidOperationException">The step was taken, but the losses after it are not finite (a feedback weighting cannot update).</exception>
    public StepReport Step(IReadOnlyList<Tensor> losses, Func<IReadOnlyList<Tensor>>? lossesAfterStep = null) => Step(losses, null, lossesAfterStep);

    /// <summary>Combine, zero_grad, backward, step and, for a feedback weighting, its update; the features are not used.</summary>
    /// <param name="losses">The T task losses of the batch, with their graph.</param>
    /// <param name="sharedFeatures">Not used: a loss weighting back-propagates its objective through the whole graph.</param>
    /// <param name="lossesAfterStep">As in <see cref="Step(IReadOnlyList{Tensor}, Func{IReadOnlyList{Tensor}}?)"/>.</param>
    public StepReport Step(IReadOnlyList<Tensor> losses, Tensor? sharedFeatures, Func<IReadOnlyList<Tensor>>? lossesAfterStep)
    {
        ArgumentNullException.ThrowIfNull(losses);
        if (NeedsLossesAfterStep && lossesAfterStep is null)
        {
            throw new ArgumentException(
                $"{Weighting.GetType().Name} learns from the losses after each step: pass a function that recomputes the batch's losses.", nameof(lossesAfterStep));
        }
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        // Combine may advance the weighting's state (FAMO waits for its update); a refused step puts it back.
        var stateBefore = WeightingState();
        var objective = Weighting.Combine(losses);
        // Combine has validated the losses (scalar, floating point, finite).
        var values = losses.Select(l => l.ToDouble()).ToArray();
        var weights = Weighting.LastWeights;
        var objectiveValue = objective.ToDouble();
        // Cleared to none rather than zeroed: a parameter that this step's objective does not reach (a routed block no
        // route took) then has no gradient and the optimizer leaves it alone, in a resumed run (whose parameters start
        // without gradients) as in an uninterrupted one. With zeroed gradients Adam would move it by its momentum in
        // the uninterrupted run only. Where every parameter is reached, nothing changes: 0 + g and g are equal.
        foreach (var parameter in Optimizer.parameters())
        {
            parameter.grad = null;
        }
        var beforeBackward = clock.Elapsed;
        if (_owned is null)
        {
            objective.backward();
        }
        else
        {
            OwnedBackward(objective, losses);
        }
        var gradientTime = clock.Elapsed - beforeBackward;
        var parameters = Optimizer.parameters().ToArray();
        if (NonFiniteGradient.FirstNonFinite([.. parameters.Select(p => p.grad)]) is { } culprit)
        {
            Optimizer.zero_grad();
            if (stateBefore is not null)
            {
                ((IStateful)Weighting).LoadState(new BinaryReader(new MemoryStream(stateBefore)));
            }
            throw new ArithmeticException(
                $"The gradient of the weighted objective with respect to the optimizer's parameter {culprit} (shape {Jacobian.ShapeText(parameters[culprit])}) contains NaN or Inf; no parameter was changed." + NonFiniteGradient.Advice);
        }
        Optimizer.step();
        if (Weighting is IFeedbackLossWeighting feedback)
        {
            using (no_grad())
            {
                try
                {
                    feedback.Update(lossesAfterStep!());
                }
                catch (ArithmeticException diverged)
                {
                    // Not an ArithmeticException: that type promises that no parameter changed, and this step was taken.
                    throw new InvalidOperationException(
                        $"The step was taken, but the losses recomputed after it cannot feed {Weighting.GetType().Name}'s update: {diverged.Message}", diverged);
                }
            }
        }
        var timings = new StepTimings(gradientTime, clock.Elapsed - gradientTime);
        return new StepReport(values, weights, Conflicts: null, GradientScope.SharedParameters, timings, objectiveValue);
    }

    /// <summary>
    /// The objective's gradient, except that each owned parameter gets only its owner's part: the objective's gradient
    /// with respect to its owner's loss, back-propagated through that loss alone.
    /// </summary>
    private void OwnedBackward(Tensor objective, IReadOnlyList<Tensor> losses)
    {
        Tensor[] inputs = [.. losses, .. _unowned];
        var gradients = autograd.grad([objective], inputs, retain_graph: true, allow_unused: true);
        using (no_grad())
        {
            for (var k = 0; k < _unowned.Length; k++)
            {
                if (!gradients[losses.Count + k].IsInvalid)
                {
                    ParameterLayout.Accumulate(_unowned[k], gradients[losses.Count + k]);
                }
            }
        }
        var last = Array.FindLastIndex(_owned!, list => list.Length > 0);
        for (var i = 0; i <= last && i < losses.Count; i++)
        {
            if (_owned![i].Length == 0 || gradients[i].IsInvalid)
            {
                continue;
            }
            // The loss's gradient as the objective's backward would feed it: same products, same order.
            var own = autograd.grad([losses[i]], _owned[i], [gradients[i]], retain_graph: i < last, allow_unused: true);
            using (no_grad())
            {
                for (var k = 0; k < own.Count; k++)
                {
                    if (!own[k].IsInvalid)
                    {
                        ParameterLayout.Accumulate(_owned[i][k], own[k]);
                    }
                }
            }
        }
    }

    private byte[]? WeightingState()
    {
        if (Weighting is not IStateful stateful)
        {
            return null;
        }
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            stateful.SaveState(writer);
        }
        return stream.ToArray();
    }

    /// <summary>Closes the current epoch for a weighting that works per epoch (DWA); does nothing for the others.</summary>
    public void EndEpoch() => (Weighting as IEpochAware)?.EndEpoch();

    /// <summary>Writes the weighting's state and the values of its learnable weights.</summary>
    /// <remarks>
    /// The learnable weights are written even when the weighting's own state covers them, so that a learnable
    /// weighting without <see cref="IStateful"/> resumes exactly too.
    /// </remarks>
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        (Weighting as IStateful)?.SaveState(writer);
        foreach (var parameter in Learnable)
        {
            using var scope = NewDisposeScope();
            var values = parameter.detach().to(ScalarType.Float64).cpu().contiguous();
            writer.Write(values.numel());
            foreach (var value in values.data<double>())
            {
                writer.Write(value);
            }
        }
    }

    /// <summary>Restores what <see cref="SaveState"/> wrote.</summary>
    /// <exception cref="InvalidDataException">The data does not fit this weighting.</exception>
    public void LoadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        (Weighting as IStateful)?.LoadState(reader);
        foreach (var parameter in Learnable)
        {
            var count = reader.ReadInt64();
            if (count != parameter.numel())
            {
                throw new InvalidDataException($"The checkpoint holds {count} values for a learnable weight of {Weighting.GetType().Name} with {parameter.numel()} elements.");
            }
            var values = new double[count];
            for (var k = 0; k < count; k++)
            {
                values[k] = reader.ReadDouble();
            }
            using var scope = NewDisposeScope();
            using (no_grad())
            {
                parameter.copy_(tensor(values, dtype: ScalarType.Float64).reshape(parameter.shape).to(parameter.dtype, parameter.device));
            }
        }
    }

    /// <summary>Nothing to free: the weighting's learnable weights belong to it, the optimizer to the caller.</summary>
    public void Dispose()
    {
    }

    private IEnumerable<Parameter> Learnable => (Weighting as ILearnableLossWeighting)?.parameters() ?? [];
}
