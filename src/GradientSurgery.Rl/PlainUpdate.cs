using System.Diagnostics;
using GradientSurgery.Training;
using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// The single-objective update: back-propagate <paramref name="taskScale"/> · Σ_t L_t once. With 1/T this is MT-SAC's
/// mean over the balanced batch; with 1 and independent networks, each network gets exactly its own task's gradient
/// (one SAC per task).
/// </summary>
/// <param name="optimizer">The optimizer over the network's parameters.</param>
/// <param name="taskScale">The factor of the sum of the task losses.</param>
public sealed class PlainUpdate(optim.Optimizer optimizer, double taskScale) : ITaskLossUpdate
{
    /// <inheritdoc/>
    public optim.Optimizer Optimizer { get; } = optimizer ?? throw new ArgumentNullException(nameof(optimizer));

    /// <inheritdoc/>
    public StepReport Step(Func<Tensor> sampleLosses, Tensor taskIds, int taskCount)
    {
        ArgumentNullException.ThrowIfNull(sampleLosses);
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        Optimizer.zero_grad();
        var losses = TaskMeans.Of(sampleLosses(), taskIds, taskCount);
        var values = losses.detach().to(ScalarType.Float64).data<double>().ToArray();
        if (Array.FindIndex(values, v => !double.IsFinite(v)) is var culprit and >= 0)
        {
            throw new ArithmeticException($"The loss of task {culprit} is {values[culprit]}; no gradient was written.");
        }
        (losses.sum() * taskScale).backward();
        var gradientTime = clock.Elapsed;
        var parameters = Optimizer.parameters().ToArray();
        var bad = Array.FindIndex(parameters, p => p.grad is { } g && !g.isfinite().all().item<bool>());
        if (bad >= 0)
        {
            Optimizer.zero_grad();
            throw new ArithmeticException($"The gradient of parameter {bad} (shape [{string.Join(", ", parameters[bad].shape)}]) contains NaN or Inf; no parameter was changed.");
        }
        Optimizer.step();
        return new StepReport(values, Weights: null, Conflicts: null, GradientScope.SharedParameters, new StepTimings(gradientTime, clock.Elapsed - gradientTime));
    }

    /// <summary>No state beyond the optimizer's.</summary>
    public void SaveState(BinaryWriter writer)
    {
    }

    /// <summary>No state beyond the optimizer's.</summary>
    public void LoadState(BinaryReader reader)
    {
    }

    /// <summary>Nothing to free (the optimizer is the caller's).</summary>
    public void Dispose()
    {
    }
}
