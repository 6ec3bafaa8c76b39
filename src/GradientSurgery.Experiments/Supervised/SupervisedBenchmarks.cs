using GradientSurgery.Data;
using GradientSurgery.Models;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>
/// The supervised benchmarks <c>gsurg train --benchmark</c> takes: the MultiMNIST family (two tasks, all examples
/// labelled for both), CIFAR-100 as 20 five-way tasks (CIFAR-MTL of Rosenbaum et al., ICLR 2018: each image is labelled
/// for its coarse class's task only), CelebA's 40 binary attributes (Sener &amp; Koltun, NeurIPS 2018) and NYUv2's three
/// dense tasks as MTAN distributes them (Liu et al., CVPR 2019: segmentation, depth, surface normals).
/// </summary>
/// <remarks>
/// An example without a label for a task carries −1 there (<see cref="ClassificationData"/>); the trainer leaves it out
/// of that task's loss and accuracy. NYUv2's splits are <see cref="DenseData"/>, its tasks <see cref="Nyuv2Tasks"/> and
/// its networks <see cref="DenseArchitectures"/>; its test split is MTAN's <c>val/</c> folder.
/// </remarks>
public static class SupervisedBenchmarks
{
    /// <summary>CIFAR-100 as 20 tasks.</summary>
    public const string Cifar100 = "cifar100";

    /// <summary>CelebA's 40 attributes.</summary>
    public const string CelebA = "celeba";

    /// <summary>NYUv2 (13-class segmentation, depth, surface normals).</summary>
    public const string Nyuv2 = "nyuv2";

    // CIFAR-100's per-channel mean and standard deviation of the training images (the values torchvision users
    // normalise with).
    private static readonly float[] CifarMean = [0.5071f, 0.4865f, 0.4409f];
    private static readonly float[] CifarDeviation = [0.2673f, 0.2564f, 0.2762f];

    /// <summary>Every benchmark name, MultiMNIST's family first.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. MultiMnistVariants.CliNames, Cifar100, CelebA, Nyuv2];

    /// <summary>Loads a benchmark's training and test splits.</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="dataDirectory">The data directory (DIR/mnist/, DIR/cifar100/, DIR/celeba/, …).</param>
    /// <param name="seed">Seed of MultiMNIST's pairing (the other benchmarks are fixed files).</param>
    /// <param name="cacheDirectory">Where composed MultiMNIST splits are cached.</param>
    /// <param name="limit">Keep only the first training examples, or null for all.</param>
    /// <exception cref="FileNotFoundException">The data is not in place; the message says which files go where.</exception>
    public static BenchmarkData Load(string name, string dataDirectory, long seed, string cacheDirectory, int? limit)
    {
        var (train, input, classes) = LoadSplit(name, dataDirectory, DatasetSplit.Train, seed, cacheDirectory, limit);
        try
        {
            return new BenchmarkData(train, LoadSplit(name, dataDirectory, DatasetSplit.Test, seed, cacheDirectory, null).Data, input, classes);
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    /// <summary>Loads one split of a benchmark (CelebA's test split for <see cref="DatasetSplit.Test"/>), with its image shape and classes per task.</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="dataDirectory">The data directory.</param>
    /// <param name="split">Which split.</param>
    /// <param name="seed">Seed of MultiMNIST's pairing.</param>
    /// <param name="cacheDirectory">Where composed MultiMNIST splits are cached.</param>
    /// <param name="limit">Keep only the first examples, or null for all.</param>
    /// <exception cref="FileNotFoundException">The data is not in place; the message says which files go where.</exception>
    public static (IMultiTaskData Data, ImageShape Input, int Classes) LoadSplit(
        string name, string dataDirectory, DatasetSplit split, long seed, string cacheDirectory, int? limit)
    {
        ArgumentNullException.ThrowIfNull(name);
        switch (name)
        {
            case Cifar100:
                return (CifarSplit(Cifar100Mtl.Load(dataDirectory, split), limit), new ImageShape(3, Cifar100Mtl.ImageSide), Cifar100Mtl.ClassesPerTask);
            case CelebA:
                var celebA = CelebADataset.Load(dataDirectory, split == DatasetSplit.Train ? Data.CelebASplit.Train : Data.CelebASplit.Test);
                return (CelebASplit(celebA, limit), new ImageShape(3, CelebADataset.DefaultSide), 2);
            case Nyuv2:
                var nyuv2 = Nyuv2Dataset.Load(dataDirectory, split == DatasetSplit.Train ? Nyuv2Split.Train : Nyuv2Split.Validation);
                return (DenseData.From(nyuv2, limit), new ImageShape(3, nyuv2.Height), Nyuv2Dataset.ClassCount);
            default:
                var variant = MultiMnistVariants.Parse(name);
                return (MultiMnistBenchmark.Load(variant, dataDirectory, split, seed, cacheDirectory, limit), ImageShape.MultiMnist, 10);
        }
    }

    /// <summary>The tasks of a benchmark: <see cref="Nyuv2Tasks"/> for NYUv2, <see cref="ClassificationTasks"/> for the others.</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="tasks">The number of tasks of the loaded data.</param>
    public static IBenchmarkTasks Tasks(string name, int tasks) => name == Nyuv2 ? new Nyuv2Tasks() : new ClassificationTasks(tasks);

    /// <summary>
    /// Builds a network for a benchmark: NYUv2's dense networks (<see cref="DenseArchitectures"/>) for NYUv2, the image
    /// classifiers of <see cref="Architectures"/> for the others.
    /// </summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="architecture">The architecture's name.</param>
    /// <param name="tasks">Number of tasks.</param>
    /// <param name="classes">Classes per task.</param>
    /// <param name="input">The images.</param>
    /// <param name="filters">NYUv2's SegNet widths per level (<see cref="TrainingSettings.Filters"/>); null for the default.</param>
    /// <exception cref="ArgumentException">An unknown architecture, one that does not exist for the benchmark, or widths for a benchmark without dense networks.</exception>
    public static MultiTaskModule CreateNetwork(string name, string architecture, int tasks, int classes, ImageShape input, string? filters = null)
    {
        if (name == Nyuv2)
        {
            return DenseArchitectures.Create(architecture, DenseArchitectures.ParseFilters(filters));
        }
        return filters is null
            ? Architectures.Create(architecture, tasks, classes, input)
            : throw new ArgumentException($"SegNet widths ('{filters}') apply to {Nyuv2}'s dense networks only, not to {name}.", nameof(filters));
    }

    /// <summary>CIFAR-MTL: normalised 3×32×32 images; task t's labels are the image's label where its task is t, −1 elsewhere.</summary>
    internal static ClassificationData CifarSplit(Cifar100MtlData data, int? limit)
    {
        var count = Math.Min(data.Count, limit ?? int.MaxValue);
        using var scope = NewDisposeScope();
        var images = Normalised(data.Images.AsSpan(0, count * Cifar100Mtl.PixelsPerImage).ToArray(), count, Cifar100Mtl.ImageSide, CifarMean, CifarDeviation);
        var tasks = tensor(data.Tasks.AsSpan(0, count).ToArray(), dtype: ScalarType.Byte).to(ScalarType.Int64);
        var labels = tensor(data.Labels.AsSpan(0, count).ToArray(), dtype: ScalarType.Byte).to(ScalarType.Int64);
        var unlabelled = full_like(labels, -1);
        return Kept(new ClassificationData(images, [.. Enumerable.Range(0, Cifar100Mtl.TaskCount).Select(t => where(tasks.eq(t), labels, unlabelled))]));
    }

    /// <summary>CelebA: 3×S×S images scaled to [−1, 1]; 40 binary tasks, every image labelled for all.</summary>
    internal static ClassificationData CelebASplit(CelebAData data, int? limit)
    {
        var count = Math.Min(data.Count, limit ?? int.MaxValue);
        var attributes = data.AttributeNames.Count;
        using var scope = NewDisposeScope();
        var images = Normalised(data.Images.AsSpan(0, count * 3 * data.Side * data.Side).ToArray(), count, data.Side, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);
        var labels = tensor(data.Labels.AsSpan(0, count * attributes).ToArray(), dtype: ScalarType.Byte).to(ScalarType.Int64).reshape(count, attributes);
        return Kept(new ClassificationData(images, [.. Enumerable.Range(0, attributes).Select(a => labels[.., a].contiguous())]));
    }

    private static Tensor Normalised(byte[] pixels, int count, int side, float[] mean, float[] deviation)
    {
        var images = tensor(pixels, dtype: ScalarType.Byte).reshape(count, 3, side, side).to(ScalarType.Float32) / 255f;
        return (images - tensor(mean).reshape(1, 3, 1, 1)) / tensor(deviation).reshape(1, 3, 1, 1);
    }

    private static ClassificationData Kept(ClassificationData data)
    {
        data.Inputs.MoveToOuterDisposeScope();
        foreach (var label in data.Labels)
        {
            label.MoveToOuterDisposeScope();
        }
        return data;
    }
}
