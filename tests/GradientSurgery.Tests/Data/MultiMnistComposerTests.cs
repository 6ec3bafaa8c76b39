using GradientSurgery.Data;
using static GradientSurgery.Tests.Data.IdxTestFiles;

namespace GradientSurgery.Tests.Data;

public sealed class MultiMnistComposerTests
{
    private const int Side = 28;

    private static byte[] Blank() => new byte[Side * Side];

    private static IdxLabeledImages Source(int count, int seed) =>
        new(new IdxImages(count, Side, Side, RandomImages(count, seed)), Enumerable.Range(0, count).Select(i => (byte)((i + seed) % 10)).ToArray());

    [Fact]
    public void NearestNeighbourSamplesPillowPixelCentres()
    {
        // ⌊(d + 0.5)·36/28⌋ for d = 0..27, worked out by hand (e.g. d = 3: 3.5·9/7 = 4.5 → 4; d = 27: 27.5·9/7 = 35.36 → 35).
        int[] expected = [0, 1, 3, 4, 5, 7, 8, 9, 10, 12, 13, 14, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27, 28, 30, 31, 32, 34, 35];
        var actual = Enumerable.Range(0, Side).Select(MultiMnistComposer.NearestSourceIndex).ToArray();
        Assert.Equal(expected, actual);
        Assert.Equal(expected, Enumerable.Range(0, Side).Select(d => (int)Math.Floor((d + 0.5) * 36.0 / 28.0)).ToArray());
    }

    [Fact]
    public void CanvasIsThePixelwiseMaximumOfBothPlacements()
    {
        var left = RandomImages(1, 10);
        var right = RandomImages(1, 11);
        var canvas = new byte[36 * 36];
        MultiMnistComposer.RenderCanvas(left, right, canvas);
        for (var y = 0; y < 36; y++)
        {
            for (var x = 0; x < 36; x++)
            {
                var l = y < 28 && x < 28 ? left[y * 28 + x] : 0;
                var r = y >= 6 && x >= 6 && y < 34 && x < 34 ? right[(y - 6) * 28 + x - 6] : 0;
                Assert.Equal(Math.Max(l, r), canvas[y * 36 + x]);
            }
        }
    }

    [Fact]
    public void PixelsLandWhereTheOverlayAndResizePutThem()
    {
        var left = Blank();
        var right = Blank();
        left[0 * Side + 0] = 255;   // canvas (0, 0)   → output (0, 0); its 255 also makes the byte scaling the identity
        left[4 * Side + 5] = 100;   // canvas (4, 5)   → output (3, 4), since rows 4 and columns 5 are sampled by d = 3 and d = 4
        left[2 * Side + 2] = 77;    // canvas (2, 2)   → row 2 is never sampled (d = 1 takes 1, d = 2 takes 3): dropped
        right[26 * Side + 25] = 50; // canvas (32, 31) → output (25, 24)
        left[10 * Side + 12] = 70;  // canvas (10, 12), overlapped by right (4, 6) = 90: max 90 → output (8, 9)
        right[4 * Side + 6] = 90;
        left[13 * Side + 16] = 180; // canvas (13, 16), overlapped by right (7, 10) = 30: max 180 → output (10, 12)
        right[7 * Side + 10] = 30;
        right[0 * Side + 0] = 60;   // canvas (6, 6), under left (6, 6) = 0: max 60 → row 6 is not sampled (d = 4 takes 5, d = 5 takes 7): dropped

        var output = new byte[Side * Side];
        MultiMnistComposer.ComposeImage(left, right, output);

        var expected = Blank();
        expected[0 * Side + 0] = 255;
        expected[3 * Side + 4] = 100;
        expected[25 * Side + 24] = 50;
        expected[8 * Side + 9] = 90;
        expected[10 * Side + 12] = 180;
        Assert.Equal(expected, output);
    }

    [Fact]
    public void FaintCanvasesAreStretchedLikeScipyBytescale()
    {
        // Brightest pixel 100: bytescale maps v to ⌊v·2.55 + 0.4999⌋ (clipped at 255):
        // 100 → 255, 50 → ⌊127.5 + 0.4999⌋ = 127 (127.49999… in float64), 1 → ⌊3.0499⌋ = 3.
        var left = Blank();
        var right = Blank();
        left[0] = 100;
        left[4 * Side + 5] = 1;
        right[26 * Side + 25] = 50;
        var output = new byte[Side * Side];
        MultiMnistComposer.ComposeImage(left, right, output);
        Assert.Equal(255, output[0]);
        Assert.Equal(3, output[3 * Side + 4]);
        Assert.Equal(127, output[25 * Side + 24]);
        Assert.Equal(Side * Side - 3, output.Count(value => value == 0));

        // An all-black pair stays black (scipy replaces the zero range by 1).
        MultiMnistComposer.ComposeImage(Blank(), Blank(), output);
        Assert.All(output, value => Assert.Equal(0, value));

        // The stretch is the identity when the maximum is 255, for every value.
        for (var v = 0; v <= 255; v++)
        {
            Assert.Equal(v, MultiMnistComposer.ByteScale((byte)v, 255));
        }
    }

    [Fact]
    public void ComposeImageRejectsWrongSizes()
    {
        var output = new byte[Side * Side];
        Assert.Throws<ArgumentException>(() => MultiMnistComposer.ComposeImage(new byte[783], Blank(), output));
        Assert.Throws<ArgumentException>(() => MultiMnistComposer.ComposeImage(Blank(), Blank(), new byte[10]));
        var small = new IdxLabeledImages(new IdxImages(1, 20, 20, new byte[400]), [1]);
        var error = Assert.Throws<ArgumentException>(() => MultiMnistComposer.Compose(small, Source(2, 1), 0));
        Assert.Contains("20×20", error.Message, StringComparison.Ordinal);
        var empty = new IdxLabeledImages(new IdxImages(0, Side, Side, []), []);
        Assert.Throws<ArgumentException>(() => MultiMnistComposer.Compose(Source(2, 1), empty, 0));
        Assert.Equal(0, MultiMnistComposer.Compose(empty, empty, 0).Count);
    }

    [Fact]
    public void EachComposedImageIsItsLeftImageWithItsDrawnRightImage()
    {
        var left = Source(30, 1);
        var right = Source(7, 2);
        var composed = MultiMnistComposer.Compose(left, right, seed: 5);

        Assert.Equal(30, composed.Count);
        Assert.Equal(30 * Side * Side, composed.Images.Length);
        var expected = new byte[Side * Side];
        for (var i = 0; i < composed.Count; i++)
        {
            var j = composed.RightIndices[i];
            Assert.InRange(j, 0, right.Count - 1);
            Assert.Equal(left.Labels[i], composed.LeftLabels[i]);
            Assert.Equal(right.Labels[j], composed.RightLabels[i]);
            MultiMnistComposer.ComposeImage(left.Images.Image(i), right.Images.Image(j), expected);
            Assert.Equal(expected, composed.Images.AsSpan(i * Side * Side, Side * Side).ToArray());
        }
    }

    [Fact]
    public void SameSeedSameDatasetDifferentSeedDifferentPairing()
    {
        var left = Source(50, 3);
        var right = Source(50, 4);
        var a = MultiMnistComposer.Compose(left, right, seed: 42);
        var b = MultiMnistComposer.Compose(left, right, seed: 42);
        var c = MultiMnistComposer.Compose(left, right, seed: 43);

        Assert.Equal(a.RightIndices, b.RightIndices);
        Assert.Equal(a.Images, b.Images);
        Assert.Equal(a.RightLabels, b.RightLabels);
        Assert.NotEqual(a.RightIndices, c.RightIndices);
        Assert.NotEqual(a.Images, c.Images);
        Assert.Equal(a.LeftLabels, c.LeftLabels); // the left side is the source order whatever the seed
    }

    [Fact]
    public void RightImagesAreDrawnUniformly()
    {
        // 20,000 draws over 10 images: each count is Binomial(20000, 0.1), mean 2000, sd ≈ 42. The seed is
        // fixed, so this cannot flake; a ±250 (6 sd) band still fails for any systematic bias of a few percent.
        var left = new IdxLabeledImages(new IdxImages(20_000, Side, Side, new byte[20_000 * Side * Side]), new byte[20_000]);
        var right = Source(10, 6);
        var counts = new int[10];
        foreach (var j in MultiMnistComposer.Compose(left, right, seed: 7).RightIndices)
        {
            counts[j]++;
        }
        Assert.All(counts, count => Assert.InRange(count, 1750, 2250));
    }

    [Fact]
    public void Crc32MatchesTheStandardCheckValue()
    {
        Assert.Equal(0xCBF43926u, Crc32.Append(0, "123456789"u8));
        // Appending in pieces equals one pass.
        Assert.Equal(Crc32.Append(0, "123456789"u8), Crc32.Append(Crc32.Append(0, "1234"u8), "56789"u8));
    }

    [Theory]
    [InlineData("multimnist", MultiMnistVariant.MultiMnist, "mnist", "mnist")]
    [InlineData("multifashion", MultiMnistVariant.MultiFashion, "fashion-mnist", "fashion-mnist")]
    [InlineData("MultiFashion-MNIST", MultiMnistVariant.MultiFashionMnist, "mnist", "fashion-mnist")]
    public void VariantsHaveCliNamesAndSources(string name, MultiMnistVariant variant, string leftSource, string rightSource)
    {
        Assert.Equal(variant, MultiMnistVariants.Parse(name));
        Assert.Equal(name.ToLowerInvariant(), variant.CliName());
        Assert.Equal(leftSource, variant.LeftSource());
        Assert.Equal(rightSource, variant.RightSource());
    }

    [Fact]
    public void UnknownVariantNameListsTheValidOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => MultiMnistVariants.Parse("multi-mnist"));
        Assert.Contains("multi-mnist", error.Message, StringComparison.Ordinal);
        Assert.Contains("multimnist, multifashion, multifashion-mnist", error.Message, StringComparison.Ordinal);
        Assert.False(MultiMnistVariants.TryParse(null, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => ((MultiMnistVariant)7).CliName());
    }
}
