namespace GradientSurgery.Data;

/// <summary>
/// Builds MultiMNIST-style images: two 28×28 images overlaid with a 6-pixel diagonal shift and shrunk back to
/// 28×28, exactly as Sener and Koltun ("Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018,
/// Section 6.1 and their public <c>multi_mnist_loader.py</c>) built the MultiMNIST of Sabour et al. ("Dynamic
/// Routing Between Capsules", NeurIPS 2017), the version the PCGrad paper (Yu et al., NeurIPS 2020) trains on.
/// </summary>
/// <remarks>
/// <para>For every image <c>left</c> of a split, one image <c>right</c> of the same split of the right-hand source
/// is drawn uniformly at random (it may be <c>left</c> itself when both come from the same file, as in the
/// reference's <c>np.random.permutation(n)[:1]</c>). Then, with NumPy slice notation (rows, columns):</para>
/// <list type="number">
/// <item><description>canvas = 36×36 zeros; canvas[0:28, 0:28] = left; canvas[6:34, 6:34] = right;</description></item>
/// <item><description>canvas[6:28, 6:28] = max(left[6:28, 6:28], right[0:22, 0:22]) — so the canvas is the
/// pixel-wise maximum of left placed at (0, 0) and right placed at (6, 6);</description></item>
/// <item><description>the canvas is resized to 28×28 by nearest neighbour. The reference calls
/// <c>scipy.misc.imresize(canvas, (28, 28), interp='nearest')</c>, i.e. Pillow's <c>Image.resize(NEAREST)</c>,
/// which samples output pixel d at source index ⌊(d + 0.5) · 36 / 28⌋ in each axis (Pillow's affine nearest
/// transform evaluates pixel centres and truncates). Output rows and columns therefore come from canvas indices
/// 0, 1, 3, 4, 5, 7, 8, 9, 10, 12, 13, 14, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27, 28, 30, 31, 32, 34, 35.
/// None of these is a rounding tie, since (2d + 1) · 9 / 14 is never an integer;</description></item>
/// <item><description>the canvas is a float64 array in the reference, so <c>imresize</c> first converts it to 8-bit
/// with scipy's <c>bytescale</c>, stretching [min, max] of the canvas to [0, 255]: value v becomes
/// ⌊min(255, v · (255 / max) + 0.4999)⌋ (the canvas minimum is always 0: canvas[0, 35] is never written; an all-zero
/// canvas stays zero). This is the identity whenever the brighter of the two images reaches 255 — about 90% of
/// MNIST digits and 92% of Fashion-MNIST articles do, so roughly 99% of composed images are unaffected — and
/// brightens the rest. It is reproduced because it is part of the data the published numbers were measured on;
/// the pixel-wise stretch commutes with the resize, so it is applied to the 28×28 result.</description></item>
/// </list>
/// <para>Labels: (label of left, label of right). Randomness comes from <see cref="SplitMix64"/> so that a seed
/// gives the same dataset on every platform and .NET version.</para>
/// </remarks>
public static class MultiMnistComposer
{
    /// <summary>Side of the source images (28).</summary>
    public const int SourceSide = 28;

    /// <summary>Side of the canvas the two images are placed on (36).</summary>
    public const int CanvasSide = 36;

    /// <summary>Row and column offset of the right image on the canvas (6).</summary>
    public const int RightOffset = 6;

    /// <summary>Side of the composed images (28).</summary>
    public const int OutputSide = 28;

    /// <summary>Bytes per composed image (28 · 28 = 784).</summary>
    public const int OutputPixels = OutputSide * OutputSide;

    /// <summary>
    /// Composes one image per left image, pairing each with a uniformly drawn right image.
    /// </summary>
    /// <param name="left">Source of the upper-left images and task-1 labels (28×28 images).</param>
    /// <param name="right">Source of the lower-right images and task-2 labels (28×28 images, same split).</param>
    /// <param name="seed">Initial state of the SplitMix64 generator drawing the right images (one draw per left image, in order).</param>
    /// <returns>The composed images and labels, in the order of the left images.</returns>
    /// <exception cref="ArgumentException">The images are not 28×28, or <paramref name="right"/> is empty while <paramref name="left"/> is not.</exception>
    public static MultiMnistComposition Compose(IdxLabeledImages left, IdxLabeledImages right, long seed)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        RequireSourceSize(left.Images, nameof(left));
        RequireSourceSize(right.Images, nameof(right));
        if (left.Count > 0 && right.Count == 0)
        {
            throw new ArgumentException($"The right-hand source has no images to pair with the {left.Count} left images.", nameof(right));
        }

        var count = left.Count;
        var images = new byte[(long)count * OutputPixels];
        var leftLabels = new byte[count];
        var rightLabels = new byte[count];
        var rightIndices = new int[count];
        var random = new SplitMix64(unchecked((ulong)seed));
        Span<byte> canvas = stackalloc byte[CanvasSide * CanvasSide];
        for (var i = 0; i < count; i++)
        {
            var j = random.NextInt(right.Count);
            rightIndices[i] = j;
            leftLabels[i] = left.Labels[i];
            rightLabels[i] = right.Labels[j];
            ComposeImage(left.Images.Image(i), right.Images.Image(j), canvas, images.AsSpan(i * OutputPixels, OutputPixels));
        }
        return new MultiMnistComposition(images, leftLabels, rightLabels, rightIndices);
    }

    /// <summary>Composes one 28×28 image from a left and a right 28×28 image (steps 1–4 of the remarks).</summary>
    /// <param name="left">784 bytes, row-major: the upper-left image.</param>
    /// <param name="right">784 bytes, row-major: the lower-right image.</param>
    /// <param name="destination">784 bytes receiving the composed image.</param>
    /// <exception cref="ArgumentException">A span does not hold exactly 784 bytes.</exception>
    public static void ComposeImage(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right, Span<byte> destination)
    {
        Span<byte> canvas = stackalloc byte[CanvasSide * CanvasSide];
        ComposeImage(left, right, canvas, destination);
    }

    /// <summary>Source canvas index sampled by output index <paramref name="destination"/>: ⌊(d + 0.5) · 36 / 28⌋, in exact integer arithmetic.</summary>
    internal static int NearestSourceIndex(int destination) => (2 * destination + 1) * CanvasSide / (2 * OutputSide);

    /// <summary>Steps 1 and 2: writes the 36×36 canvas.</summary>
    internal static void RenderCanvas(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right, Span<byte> canvas)
    {
        canvas.Clear();
        for (var r = 0; r < SourceSide; r++)
        {
            left.Slice(r * SourceSide, SourceSide).CopyTo(canvas.Slice(r * CanvasSide, SourceSide));
        }
        for (var r = 0; r < SourceSide; r++)
        {
            right.Slice(r * SourceSide, SourceSide).CopyTo(canvas.Slice((r + RightOffset) * CanvasSide + RightOffset, SourceSide));
        }
        // The right image overwrote left[6:28, 6:28]; the reference restores the overlap as the maximum of both.
        for (var r = RightOffset; r < SourceSide; r++)
        {
            for (var c = RightOffset; c < SourceSide; c++)
            {
                canvas[r * CanvasSide + c] = Math.Max(left[r * SourceSide + c], right[(r - RightOffset) * SourceSide + c - RightOffset]);
            }
        }
    }

    private static void ComposeImage(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right, Span<byte> canvas, Span<byte> destination)
    {
        RequireLength(left, SourceSide * SourceSide, nameof(left));
        RequireLength(right, SourceSide * SourceSide, nameof(right));
        RequireLength(destination, OutputPixels, nameof(destination));
        RenderCanvas(left, right, canvas);

        byte max = 0;
        foreach (var value in canvas)
        {
            max = Math.Max(max, value);
        }
        for (var r = 0; r < OutputSide; r++)
        {
            var sourceRow = NearestSourceIndex(r) * CanvasSide;
            for (var c = 0; c < OutputSide; c++)
            {
                destination[r * OutputSide + c] = ByteScale(canvas[sourceRow + NearestSourceIndex(c)], max);
            }
        }
    }

    /// <summary>scipy's <c>bytescale</c> with cmin = 0, cmax = <paramref name="max"/>, in the same float64 operations.</summary>
    internal static byte ByteScale(byte value, byte max)
    {
        if (max == byte.MaxValue)
        {
            return value; // v · 1.0 + 0.4999 truncates back to v.
        }
        // scipy replaces a zero range by 1, so an all-zero canvas maps to zeros.
        var scale = 255.0 / (max == 0 ? 1 : max);
        var scaled = value * scale + 0.4999;
        return (byte)Math.Min(255.0, scaled);
    }

    private static void RequireSourceSize(IdxImages images, string name)
    {
        if (images.Rows != SourceSide || images.Columns != SourceSide)
        {
            throw new ArgumentException($"MultiMNIST composes {SourceSide}×{SourceSide} images, but the {name} images are {images.Rows}×{images.Columns}.", name);
        }
    }

    private static void RequireLength(ReadOnlySpan<byte> span, int length, string name)
    {
        if (span.Length != length)
        {
            throw new ArgumentException($"Expected {length} bytes, got {span.Length}.", name);
        }
    }
}
