using GradientSurgery.Training;
using GradientSurgery.Weighting;
using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>The update of a loss weighting (FAMO, uncertainty weighting, …): the library's <see cref="LossWeightingStep"/> on the task means.</summary>
/// <param name="step">The weighting's step, over the network's parameters and the weighting's learnable weights.</param>
public sealed class WeightingUpdate(LossWeightingStep step) : ITaskLossUpdate
{
    private readonly LossWeightingStep _step = step ?? throw new ArgumentNullException(nameof(step));

    /// <inheritdoc/>
    public optim.Optimizer Optimizer => _step.Optimizer;

    /// <summary>The loss weighting.</summary>
    public ILossWeighting Weighting => _step.Weighting;

    /// <inheritdoc/>
    public StepReport Step(Func<Tensor> sampleLosses, Tensor taskIds, int taskCount)
    {
        ArgumentNullException.ThrowIfNull(sampleLosses);
        using var scope = NewDisposeScope();
        return _step.Step(TaskMeans.List(sampleLosses(), taskIds, taskCount), () => TaskMeans.List(sampleLosses(), taskIds, taskCount));
    }

    /// <inheritdoc/>
    public void SaveState(BinaryWriter writer) => _step.SaveState(writer);

    /// <inheritdoc/>
    public void LoadState(BinaryReader reader) => _step.LoadState(reader);

    /// <inheritdoc/>
    public void Dispose() => _step.Dispose();
}
