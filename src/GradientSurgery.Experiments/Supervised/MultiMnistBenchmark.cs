using GradientSurgery.Data;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>Turns a composed MultiMNIST-style split into tensors for the trainer: two tasks (left digit, right digit).</summary>
public static class MultiMnistBenchmark
{
    // The normalisation of Sener & Koltun's loader (MNIST's mean and standard deviation).
    private const float Mean = 0.1307f;
    private const float StandardDeviation = 0.3081f;

    /// <summary>Loads (or builds and caches) a split and converts it to N×1×28×28 float32 images and two int64 label vectors.</summary>
    /// <param name="variant">MultiMNIST, MultiFashion or Multi-(Fashion+MNIST).</param>
    /// <param name="dataDirectory">Directory with mnist/ and fashion-mnist/ holding the original .gz files.</param>
    /// <param name="split">Train or test.</param>
    /// <param name="seed">Seed of the pairing of left and right images.</param>
    /// <param name="cacheDirectory">Where composed splits are cached, or null for no cache.</param>
    /// <param name="limit">Keep only the first examples (quick runs and tests), or null for all.</param>
    public static ClassificationData Load(MultiMnistVariant variant, string dataDirectory, DatasetSplit split, long seed, string? cacheDirectory, int? limit = null)
    {
        var dataset = MultiMnistDataset.Load(variant, dataDirectory, split, seed, cacheDirectory);
        var count = Math.Min(dataset.Count, limit ?? int.MaxValue);
        using var scope = NewDisposeScope();
        var pixels = tensor(dataset.Images.AsSpan(0, count * MultiMnistDataset.PixelsPerImage).ToArray(), dtype: ScalarType.Byte)
            .reshape(count, 1, MultiMnistDataset.ImageSide, MultiMnistDataset.ImageSide);
        var images = (pixels.to(ScalarType.Float32) / 255f - Mean) / StandardDeviation;
        Tensor Labels(byte[] labels) => tensor(labels.AsSpan(0, count).ToArray(), dtype: ScalarType.Byte).to(ScalarType.Int64);
        var data = new ClassificationData(images, [Labels(dataset.LeftLabels), Labels(dataset.RightLabels)]);
        data.Inputs.MoveToOuterDisposeScope();
        foreach (var label in data.Labels)
        {
            label.MoveToOuterDisposeScope();
        }
        return data;
    }
}
