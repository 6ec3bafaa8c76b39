using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>
/// A split of a supervised multi-task benchmark in memory, as <see cref="MultiTaskTrainer{TModel}"/> batches it: N inputs
/// and one target tensor per task whose first dimension is N, so that a batch is the same rows of every tensor
/// (<c>index_select(0, …)</c> or <c>narrow(0, …)</c>). What a task's targets mean is the business of the benchmark's
/// <see cref="IBenchmarkTasks"/>: class labels for <see cref="ClassificationData"/>, dense maps for <see cref="DenseData"/>.
/// </summary>
public interface IMultiTaskData : IDisposable
{
    /// <summary>The inputs, N×….</summary>
    Tensor Inputs { get; }

    /// <summary>Task i's targets in entry i, each with N rows.</summary>
    IReadOnlyList<Tensor> Targets { get; }

    /// <summary>Number of examples N.</summary>
    long Count { get; }

    /// <summary>Number of tasks.</summary>
    int TaskCount { get; }
}
