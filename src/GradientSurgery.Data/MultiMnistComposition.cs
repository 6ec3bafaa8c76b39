namespace GradientSurgery.Data;

/// <summary>The output of <see cref="MultiMnistComposer.Compose"/>: overlaid 28×28 images and both labels of each.</summary>
public sealed class MultiMnistComposition
{
    internal MultiMnistComposition(byte[] images, byte[] leftLabels, byte[] rightLabels, int[] rightIndices)
    {
        Images = images;
        LeftLabels = leftLabels;
        RightLabels = rightLabels;
        RightIndices = rightIndices;
    }

    /// <summary>Number of composed images (the number of left images).</summary>
    public int Count => LeftLabels.Length;

    /// <summary>Composed images, 28·28 bytes each, row-major, image after image.</summary>
    public byte[] Images { get; }

    /// <summary>Label of the upper-left image of each composed image (task 1).</summary>
    public byte[] LeftLabels { get; }

    /// <summary>Label of the lower-right image of each composed image (task 2).</summary>
    public byte[] RightLabels { get; }

    /// <summary>Index, in the right-hand source, of the image drawn as the lower-right image of each composed image.</summary>
    public int[] RightIndices { get; }
}
