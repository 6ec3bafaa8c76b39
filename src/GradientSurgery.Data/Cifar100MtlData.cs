namespace GradientSurgery.Data;

/// <summary>
/// One split of CIFAR-100 arranged as 20 tasks (CIFAR-MTL, Rosenbaum, Klinger and Riemer, ICLR 2018): each
/// coarse class is a task, and the 5 fine classes of that coarse class are the task's labels.
/// </summary>
/// <remarks>
/// Images are <see cref="Count"/> × 3 × 32 × 32 unsigned bytes (channel-major: the 1024 red bytes, then green, then
/// blue, each row-major), exactly as stored in the binary distribution.
/// </remarks>
public sealed class Cifar100MtlData
{
    internal Cifar100MtlData(string sourcePath, byte[] images, byte[] tasks, byte[] labels, byte[] fineLabels)
    {
        SourcePath = sourcePath;
        Images = images;
        Tasks = tasks;
        Labels = labels;
        FineLabels = fineLabels;
    }

    /// <summary>The <c>.bin</c> file the records were read from.</summary>
    public string SourcePath { get; }

    /// <summary>Number of examples (50,000 for train, 10,000 for test with the official files).</summary>
    public int Count => Tasks.Length;

    /// <summary>The images: <see cref="Count"/> · 3072 bytes, each image 3 × 32 × 32 (channel, row, column).</summary>
    public byte[] Images { get; }

    /// <summary>The task of each example: its coarse class, 0..19.</summary>
    public byte[] Tasks { get; }

    /// <summary>The label of each example within its task, 0..4: the rank of its fine class among the 5 fine classes of its coarse class, in ascending fine-label order.</summary>
    public byte[] Labels { get; }

    /// <summary>The original fine label (0..99) of each example, kept for reference and checks.</summary>
    public byte[] FineLabels { get; }

    /// <summary>The pixels of one image.</summary>
    /// <param name="index">Example index in [0, <see cref="Count"/>).</param>
    /// <returns>3072 bytes: red plane, green plane, blue plane, each 32 × 32 row-major.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is out of range.</exception>
    public ReadOnlySpan<byte> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Images.AsSpan(index * Cifar100Mtl.PixelsPerImage, Cifar100Mtl.PixelsPerImage);
    }
}
