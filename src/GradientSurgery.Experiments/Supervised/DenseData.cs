using GradientSurgery.Data;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>
/// A split of NYUv2 in memory for dense prediction: N×3×H×W images and three target maps, in the order of
/// <see cref="Nyuv2Tasks"/>: segmentation (N×H×W int64 class ids, −1 unlabelled), depth (N×1×H×W, 0 where missing) and
/// surface normals (N×3×H×W, the zero vector where missing).
/// </summary>
public sealed class DenseData : IMultiTaskData
{
    /// <summary>Takes ownership of the tensors.</summary>
    /// <param name="images">N×3×H×W float32 images.</param>
    /// <param name="segmentation">N×H×W int64 class ids (−1: unlabelled).</param>
    /// <param name="depth">N×1×H×W float32 depth (0: missing).</param>
    /// <param name="normals">N×3×H×W float32 normals (zero vector: missing).</param>
    /// <exception cref="ArgumentException">A tensor's shape or type does not fit the images'.</exception>
    public DenseData(Tensor images, Tensor segmentation, Tensor depth, Tensor normals)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(segmentation);
        ArgumentNullException.ThrowIfNull(depth);
        ArgumentNullException.ThrowIfNull(normals);
        if (images.dim() != 4 || images.shape[1] != 3)
        {
            throw new ArgumentException($"Expected N×3×H×W images, got [{string.Join(", ", images.shape)}].", nameof(images));
        }
        var (n, h, w) = (images.shape[0], images.shape[2], images.shape[3]);
        Check(segmentation, [n, h, w], ScalarType.Int64, nameof(segmentation));
        Check(depth, [n, 1, h, w], ScalarType.Float32, nameof(depth));
        Check(normals, [n, 3, h, w], ScalarType.Float32, nameof(normals));
        Inputs = images;
        Targets = [segmentation, depth, normals];
    }

    /// <summary>Converts a loaded NYUv2 split, keeping its first <paramref name="limit"/> images (all when null).</summary>
    public static DenseData From(Nyuv2Data data, int? limit)
    {
        ArgumentNullException.ThrowIfNull(data);
        var count = Math.Min(data.Count, limit ?? int.MaxValue);
        var plane = data.PixelsPerImage;
        var (h, w) = ((long)data.Height, (long)data.Width);
        using var scope = NewDisposeScope();
        // The whole split's arrays go in as they are (no second copy of 2.8 GB); a limited one is cut first.
        T[] First<T>(T[] values, int perImage) => count == data.Count ? values : values.AsSpan(0, count * perImage).ToArray();
        var images = tensor(First(data.Images, plane * 3)).reshape(count, 3, h, w);
        var segmentation = tensor(First(data.Segmentation, plane)).reshape(count, h, w).to(ScalarType.Int64);
        var depth = tensor(First(data.Depth, plane)).reshape(count, 1, h, w);
        var normals = tensor(First(data.Normals, plane * 3)).reshape(count, 3, h, w);
        var dense = new DenseData(images, segmentation, depth, normals);
        foreach (var kept in dense.Targets.Prepend(dense.Inputs))
        {
            kept.MoveToOuterDisposeScope();
        }
        return dense;
    }

    /// <inheritdoc />
    public Tensor Inputs { get; }

    /// <inheritdoc />
    public IReadOnlyList<Tensor> Targets { get; }

    /// <inheritdoc />
    public long Count => Inputs.shape[0];

    /// <inheritdoc />
    public int TaskCount => Targets.Count;

    /// <summary>Image height.</summary>
    public long Height => Inputs.shape[2];

    /// <summary>Image width.</summary>
    public long Width => Inputs.shape[3];

    /// <inheritdoc />
    public void Dispose()
    {
        Inputs.Dispose();
        foreach (var target in Targets)
        {
            target.Dispose();
        }
    }

    private static void Check(Tensor target, long[] shape, ScalarType type, string name)
    {
        if (!target.shape.SequenceEqual(shape) || target.dtype != type)
        {
            throw new ArgumentException($"Expected {name} of shape [{string.Join(", ", shape)}] and type {type}, got [{string.Join(", ", target.shape)}] {target.dtype}.", name);
        }
    }
}
