namespace GradientSurgery.Data;

/// <summary>
/// The images of one IDX image file: <see cref="Count"/> greyscale images of <see cref="Rows"/> ×
/// <see cref="Columns"/> unsigned bytes (0 = background), stored row-major, one image after another.
/// </summary>
public sealed class IdxImages
{
    /// <summary>Wraps pixels already laid out as the IDX payload.</summary>
    /// <param name="count">Number of images (≥ 0).</param>
    /// <param name="rows">Rows of every image (&gt; 0).</param>
    /// <param name="columns">Columns of every image (&gt; 0).</param>
    /// <param name="pixels">Exactly <paramref name="count"/> · <paramref name="rows"/> · <paramref name="columns"/> bytes; kept, not copied.</param>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is out of range.</exception>
    /// <exception cref="ArgumentException">The pixel array has the wrong length.</exception>
    public IdxImages(int count, int rows, int columns, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        ArgumentNullException.ThrowIfNull(pixels);
        var expected = (long)count * rows * columns;
        if (pixels.LongLength != expected)
        {
            throw new ArgumentException(
                $"{count} images of {rows}×{columns} need {expected} pixels, but the array holds {pixels.LongLength}.", nameof(pixels));
        }
        Count = count;
        Rows = rows;
        Columns = columns;
        Pixels = pixels;
    }

    /// <summary>Number of images.</summary>
    public int Count { get; }

    /// <summary>Rows of every image (28 for MNIST and Fashion-MNIST).</summary>
    public int Rows { get; }

    /// <summary>Columns of every image (28 for MNIST and Fashion-MNIST).</summary>
    public int Columns { get; }

    /// <summary>Bytes per image: <see cref="Rows"/> · <see cref="Columns"/>.</summary>
    public int PixelsPerImage => Rows * Columns;

    /// <summary>All pixels, row-major, image after image (<see cref="Count"/> · <see cref="PixelsPerImage"/> bytes).</summary>
    public byte[] Pixels { get; }

    /// <summary>The pixels of one image, row-major.</summary>
    /// <param name="index">Image index in [0, <see cref="Count"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the file.</exception>
    public ReadOnlySpan<byte> Image(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Image index must be in [0, {Count}).");
        }
        return Pixels.AsSpan(index * PixelsPerImage, PixelsPerImage);
    }
}
