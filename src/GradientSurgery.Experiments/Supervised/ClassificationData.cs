using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>
/// A multi-task classification split in memory: N inputs and one label vector per task, where −1 marks an example
/// without a label for that task (CIFAR-MTL labels each image for one task only).
/// </summary>
public sealed class ClassificationData : IMultiTaskData
{
    /// <summary>Takes ownership of the tensors.</summary>
    /// <param name="inputs">N×… float32 inputs.</param>
    /// <param name="labels">One int64 tensor of N class indices per task (−1: no label for that task).</param>
    public ClassificationData(Tensor inputs, IReadOnlyList<Tensor> labels)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count == 0 || labels.Any(l => l.dim() != 1 || l.shape[0] != inputs.shape[0] || l.dtype != ScalarType.Int64))
        {
            throw new ArgumentException($"Expected one int64 label vector of length {inputs.shape[0]} per task.", nameof(labels));
        }
        Inputs = inputs;
        Labels = [.. labels];
    }

    /// <summary>The inputs.</summary>
    public Tensor Inputs { get; }

    /// <summary>The labels, one vector per task.</summary>
    public Tensor[] Labels { get; }

    /// <inheritdoc />
    /// <remarks>The labels.</remarks>
    public IReadOnlyList<Tensor> Targets => Labels;

    /// <summary>Number of examples.</summary>
    public long Count => Inputs.shape[0];

    /// <summary>Number of tasks.</summary>
    public int TaskCount => Labels.Length;

    /// <inheritdoc />
    public void Dispose()
    {
        Inputs.Dispose();
        foreach (var label in Labels)
        {
            label.Dispose();
        }
    }
}
