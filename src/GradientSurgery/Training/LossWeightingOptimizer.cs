using GradientSurgery.Aggregation;
using GradientSurgery.Weighting;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>What one step of a <see cref="LossWeightingOptimizer"/> did.</summary>
/// <param name="Losses">Each task's loss value before the step.</param>
/// <param name="Weights">The weighting's effective weights ∂objective/∂L_i (<see cref="ILossWeighting.LastWeights"/>).</param>
/// <param name="Objective">The value of the objective that was back-propagated.</param>
public sealed record LossWeightingStepReport(double[] Losses, double[] Weights, double Objective);

/// <summary>
/// The training step of a loss weighting, exactly as <see cref="ILossWeighting"/>'s remarks prescribe:
/// <c>objective = weighting.Combine(losses)</c>, <c>zero_grad()</c>, <c>objective.backward()</c>, <c>step()</c>,
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
/// Unlike <see cref="MultiTaskOptimizer"/> there is no per-task Jacobian, so the step costs one backward pass
/// and reports no conflict diagnostics.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// var weighting = LossWeightings.Create("famo", seed, new LossWeightingContext(2));
/// var learnable = (weighting as ILearnableLossWeighting)?.parameters() ?? [];
/// var optimizer = new LossWeightingOptimizer(torch.optim.Adam(model.parameters().Concat(learnable)), weighting);
/// var report = optimizer.Step(Losses(batch), () => Losses(batch));
/// </code>
/// </example>
public sealed class LossWeightingOptimizer
{
    /// <summary>Creates the step.</summary>
    /// <param name="optimizer">The optimizer over the model's parameters and the weighting's learnable parameters.</param>
    /// <param name="weighting">The loss weighting.</param>
    /// <exception cref="ArgumentException">A learnable parameter of the weighting is not among the optimizer's parameters.</exception>
    public LossWeightingOptimizer(optim.Optimizer optimizer, ILossWeighting weighting)
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
    }

    /// <summary>The wrapped optimizer.</summary>
    public optim.Optimizer Optimizer { get; }

    /// <summary>The loss weighting.</summary>
    public ILossWeighting Weighting { get; }

    /// <summary>Whether <see cref="Step"/> needs the losses recomputed after the step (FAMO).</summary>
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
    public LossWeightingStepReport Step(IReadOnlyList<Tensor> losses, Func<IReadOnlyList<Tensor>>? lossesAfterStep = null)
    {
        ArgumentNullException.ThrowIfNull(losses);
        if (NeedsLossesAfterStep && lossesAfterStep is null)
        {
            throw new ArgumentException(
                $"{Weighting.GetType().Name} learns from the losses after each step: pass a function that recomputes the batch's losses.", nameof(lossesAfterStep));
        }
        using var scope = NewDisposeScope();
        // Combine may advance the weighting's state (FAMO waits for its update); a refused step puts it back.
        var stateBefore = SaveState(Weighting as IStateful);
        var objective = Weighting.Combine(losses);
        // Combine has validated the losses (scalar, floating point, finite).
        var values = losses.Select(l => l.ToDouble()).ToArray();
        var weights = Weighting.LastWeights;
        var objectiveValue = objective.ToDouble();
        Optimizer.zero_grad();
        objective.backward();
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
        return new LossWeightingStepReport(values, weights, objectiveValue);
    }

    private static byte[]? SaveState(IStateful? stateful)
    {
        if (stateful is null)
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
}
