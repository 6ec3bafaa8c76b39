using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Weighting;

/// <summary>
/// A loss weighting: turns the T scalar task losses of one training step into ONE scalar objective that is
/// back-propagated with an ordinary <c>objective.backward()</c>.
/// </summary>
/// <remarks>
/// <para>
/// Unlike an <see cref="Aggregation.IAggregator"/>, a loss weighting never sees the per-task Jacobian: it acts on
/// the loss values, so a step costs one backward pass. The objective is usually Σ_i w_i L_i with w detached, but
/// may be a non-linear scalarisation (a geometric mean, a smooth maximum, a sum of log losses).
/// </para>
/// <para>
/// The training loop every implementation of this namespace expects, per batch and per epoch:
/// <code>
/// // once: the optimizer also holds the learnable weights, if any
/// var parameters = model.parameters().Concat((weighting as ILearnableLossWeighting)?.parameters() ?? []);
/// var optimizer = torch.optim.Adam(parameters);
/// for (var epoch = 0; epoch &lt; epochs; epoch++)
/// {
///     foreach (var batch in batches)
///     {
///         IReadOnlyList&lt;Tensor&gt; losses = model.Losses(batch);          // T scalars with their graph
///         var objective = weighting.Combine(losses);                // exactly once per step
///         optimizer.zero_grad();
///         objective.backward();
///         optimizer.step();
///         if (weighting is IFeedbackLossWeighting feedback)
///         {
///             using (torch.no_grad())
///             {
///                 feedback.Update(model.Losses(batch));             // same batch, AFTER the step
///             }
///         }
///     }
///     (weighting as IEpochAware)?.EndEpoch();
/// }
/// </code>
/// <see cref="Combine"/> must not be called on validation or test batches: stateful weightings treat every call
/// as a training step.
/// </para>
/// </remarks>
public interface ILossWeighting
{
    /// <summary>
    /// The scalar objective of one training step, to back-propagate once.
    /// </summary>
    /// <param name="losses">The T task losses of the batch: floating-point tensors with one element each, all finite.</param>
    /// <returns>A 0-dimensional tensor connected to the losses' graph (and to the learnable weights, if any).</returns>
    /// <exception cref="ArgumentException">The list is empty, a loss is null, not a scalar, not floating point, on another device, or outside the method's domain; the message names the task.</exception>
    /// <exception cref="ArithmeticException">A loss is NaN or infinite; the message names the task.</exception>
    Tensor Combine(IReadOnlyList<Tensor> losses);

    /// <summary>
    /// The effective weights of the last <see cref="Combine"/>: entry i is ∂objective/∂L_i at the losses of that
    /// call (for Σ w_i L_i, simply w). Empty before the first call. A copy: changing it changes nothing.
    /// </summary>
    double[] LastWeights { get; }
}

/// <summary>
/// A loss weighting with weights learned by gradient descent together with the model (e.g. the log variances
/// of uncertainty weighting).
/// </summary>
/// <remarks>
/// Add <see cref="parameters"/> to the optimizer (or to a separate one). Their gradient is produced by the same
/// <c>objective.backward()</c> that trains the model, so no other call is needed.
/// </remarks>
public interface ILearnableLossWeighting : ILossWeighting
{
    /// <summary>The learnable weights, to hand to an optimizer. The same objects on every call.</summary>
    IEnumerable<Parameter> parameters();
}

/// <summary>A loss weighting whose weights change at epoch boundaries (e.g. DWA, which compares epoch-average losses).</summary>
public interface IEpochAware
{
    /// <summary>
    /// Closes the current epoch: call once after its last training step, before the first step of the next
    /// epoch. Every <see cref="ILossWeighting.Combine"/> in between belongs to the epoch being closed.
    /// </summary>
    /// <exception cref="InvalidOperationException">No training step was taken since the previous boundary.</exception>
    void EndEpoch();
}

/// <summary>
/// A loss weighting that learns from the effect of the step it weighted (e.g. FAMO, which compares each loss
/// before and after the parameter update).
/// </summary>
public interface IFeedbackLossWeighting : ILossWeighting
{
    /// <summary>
    /// Reports the losses of the SAME batch recomputed AFTER <c>optimizer.step()</c>: call exactly once after each
    /// step whose objective came from <see cref="ILossWeighting.Combine"/>, typically under <c>torch.no_grad()</c>
    /// (only the values are read).
    /// </summary>
    /// <param name="lossesAfterStep">The T losses, in the same task order as the last <see cref="ILossWeighting.Combine"/>.</param>
    /// <exception cref="InvalidOperationException">There is no <see cref="ILossWeighting.Combine"/> awaiting its feedback.</exception>
    void Update(IReadOnlyList<Tensor> lossesAfterStep);
}
