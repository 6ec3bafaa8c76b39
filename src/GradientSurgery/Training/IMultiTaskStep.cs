using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// One training step of a multi-task method, whatever its kind: <c>zero_grad()</c>, the method's backward and
/// <c>optimizer.step()</c>. <see cref="MethodCatalog.CreateStep"/> builds one for any method, so that a training
/// loop never asks whether it holds an aggregator (<see cref="AggregationStep"/>) or a loss weighting
/// (<see cref="LossWeightingStep"/>).
/// </summary>
/// <remarks>
/// Its <see cref="IStateful"/> state is the method's (random generators, running averages, learnable loss weights),
/// for checkpoints; the optimizer's state is saved through <see cref="Optimizer"/>.
/// </remarks>
public interface IMultiTaskStep : IStateful, IDisposable
{
    /// <summary>The optimizer the step applies (over the model's parameters and a weighting's learnable weights).</summary>
    optim.Optimizer Optimizer { get; }

    /// <summary>Whether <see cref="Step"/> needs the batch's losses recomputed after the update (FAMO).</summary>
    bool NeedsLossesAfterStep { get; }

    /// <summary>One step on the T task losses of a batch.</summary>
    /// <param name="losses">The T scalar task losses, with their graph.</param>
    /// <param name="sharedFeatures">
    /// The trunk's output, when the model has one: aggregators then take the cheaper features path (and MGDA-UB
    /// needs it); loss weightings do not use it.
    /// </param>
    /// <param name="lossesAfterStep">
    /// Recomputes the same batch's losses with the updated model (called once, under <c>no_grad</c>); required when
    /// <see cref="NeedsLossesAfterStep"/>, ignored otherwise.
    /// </param>
    /// <returns>The losses, the weights and, for aggregators, the conflicts of the task gradients.</returns>
    /// <exception cref="ArgumentException">Bad losses or features; nothing was changed.</exception>
    /// <exception cref="ArithmeticException">A loss or a gradient is NaN or infinite; no parameter was changed.</exception>
    StepReport Step(IReadOnlyList<Tensor> losses, Tensor? sharedFeatures = null, Func<IReadOnlyList<Tensor>>? lossesAfterStep = null);

    /// <summary>Closes the current epoch, for methods that work per epoch (DWA); does nothing for the others.</summary>
    void EndEpoch();
}
