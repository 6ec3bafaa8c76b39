using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>Each task's loss as the mean of its own samples' losses, the multi-task SAC losses of the paper.</summary>
public static class TaskMeans
{
    /// <summary>The T task means [T] of per-sample values [N] (with their graph); 0 for a task without samples.</summary>
    public static Tensor Of(Tensor perSample, Tensor taskIds, int taskCount)
    {
        ArgumentNullException.ThrowIfNull(perSample);
        ArgumentNullException.ThrowIfNull(taskIds);
        var sums = zeros(taskCount, dtype: perSample.dtype, device: perSample.device).index_add(0, taskIds, perSample, 1);
        var counts = bincount(taskIds, minlength: taskCount).clamp_min(1).to(perSample.dtype);
        return sums / counts;
    }

    /// <summary>The task means as T scalar tensors, the form the library's methods take.</summary>
    public static Tensor[] List(Tensor perSample, Tensor taskIds, int taskCount) => Of(perSample, taskIds, taskCount).unbind(0);
}
