using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>Sums over the batches of a split that an <see cref="IBenchmarkTasks"/> turns into test metrics.</summary>
public interface ITaskEvaluation
{
    /// <summary>Adds one batch (outputs in evaluation mode, without gradients).</summary>
    /// <param name="outputs">The network's outputs, one per task.</param>
    /// <param name="targets">The batch's targets, one per task.</param>
    void Add(Tensor[] outputs, IReadOnlyList<Tensor> targets);

    /// <summary>The split's metrics.</summary>
    /// <param name="sumOverRanks">Adds an array of sums over the ranks of a data-parallel run, in place (nothing for one process).</param>
    TaskEvaluation Finish(Action<double[]> sumOverRanks);
}
