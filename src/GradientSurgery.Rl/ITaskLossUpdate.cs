using GradientSurgery.Training;
using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// One optimizer step of one network from its per-sample losses, each task's loss being the mean over its own samples:
/// how those T losses become <c>.grad</c> is the multi-task method (<see cref="PlainUpdate"/>, <see cref="AggregatorUpdate"/>,
/// <see cref="WeightingUpdate"/>).
/// </summary>
public interface ITaskLossUpdate : IStateful, IDisposable
{
    /// <summary>The optimizer over the network's parameters (and a loss weighting's learnable weights).</summary>
    optim.Optimizer Optimizer { get; }

    /// <summary>zero_grad, the method's backward of the batch's task losses, step.</summary>
    /// <param name="sampleLosses">
    /// Runs the forward pass and returns the per-sample losses [N]; deterministic (fixed noise), since a method that
    /// learns from the losses after the step (FAMO) calls it again.
    /// </param>
    /// <param name="taskIds">Each sample's task [N], int64.</param>
    /// <param name="taskCount">T.</param>
    /// <returns>The task losses and, for an aggregator, its weights and the conflicts of the task gradients.</returns>
    StepReport Step(Func<Tensor> sampleLosses, Tensor taskIds, int taskCount);
}
