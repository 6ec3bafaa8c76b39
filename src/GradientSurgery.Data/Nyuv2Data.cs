namespace GradientSurgery.Data;

/// <summary>
/// One split of NYUv2 as MTAN distributes it, channel-first: RGB images, 13-class segmentation, depth and surface
/// normals for every image.
/// </summary>
public sealed class Nyuv2Data
{
    internal Nyuv2Data(Nyuv2Split split, int count, int height, int width, float[] images, int[] segmentation, float[] depth, float[] normals)
    {
        Split = split;
        Count = count;
        Height = height;
        Width = width;
        Images = images;
        Segmentation = segmentation;
        Depth = depth;
        Normals = normals;
    }

    /// <summary>Which split this is.</summary>
    public Nyuv2Split Split { get; }

    /// <summary>Number of images (795 train, 654 validation with MTAN's files).</summary>
    public int Count { get; }

    /// <summary>Image height (288 with MTAN's files).</summary>
    public int Height { get; }

    /// <summary>Image width (384 with MTAN's files).</summary>
    public int Width { get; }

    /// <summary>Pixels per image and channel: <see cref="Height"/> · <see cref="Width"/>.</summary>
    public int PixelsPerImage => Height * Width;

    /// <summary>RGB in [0, 1]: <see cref="Count"/> × 3 × H × W (transposed from the files' H × W × 3).</summary>
    public float[] Images { get; }

    /// <summary>Class ids 0..12, or −1 for unlabelled pixels: <see cref="Count"/> × H × W.</summary>
    public int[] Segmentation { get; }

    /// <summary>Depth, 0 where missing: <see cref="Count"/> × 1 × H × W.</summary>
    public float[] Depth { get; }

    /// <summary>Surface normals, the zero vector where missing: <see cref="Count"/> × 3 × H × W (transposed from H × W × 3).</summary>
    public float[] Normals { get; }
}
