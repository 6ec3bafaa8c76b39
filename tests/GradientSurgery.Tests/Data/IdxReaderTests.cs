using System.Buffers.Binary;
using GradientSurgery.Data;
using static GradientSurgery.Tests.Data.IdxTestFiles;

namespace GradientSurgery.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static InvalidDataException Fails(Action read, string path, params string[] fragments)
    {
        var error = Assert.Throws<InvalidDataException>(read);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        foreach (var fragment in fragments)
        {
            Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        }
        return error;
    }

    [Fact]
    public void ReadsImagesExactly()
    {
        // 3 images of 2×4 with distinct values: image k, row r, column c holds 100k + 10r + c.
        var pixels = new byte[3 * 2 * 4];
        for (var k = 0; k < 3; k++)
        {
            for (var r = 0; r < 2; r++)
            {
                for (var c = 0; c < 4; c++)
                {
                    pixels[k * 8 + r * 4 + c] = (byte)(k * 50 + r * 10 + c);
                }
            }
        }
        var path = WriteGz(_temp.File("img.gz"), ImagesIdx(3, 2, 4, pixels));

        var images = IdxReader.ReadImages(path);

        Assert.Equal((3, 2, 4, 8), (images.Count, images.Rows, images.Columns, images.PixelsPerImage));
        Assert.Equal(pixels, images.Pixels);
        Assert.Equal(new byte[] { 100, 101, 102, 103, 110, 111, 112, 113 }, images.Image(2).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => images.Image(3).ToArray());
    }

    [Fact]
    public void ReadsAnEmptyImageFile()
    {
        var path = WriteGz(_temp.File("img.gz"), ImagesIdx(0, 28, 28, []));
        var images = IdxReader.ReadImages(path);
        Assert.Equal(0, images.Count);
        Assert.Empty(images.Pixels);
    }

    [Fact]
    public void ReadsLabelsAndMatchingPairs()
    {
        var labels = new byte[] { 0, 9, 3, 3, 7 };
        var labelsPath = WriteGz(_temp.File("lab.gz"), LabelsIdx(labels));
        var imagesPath = WriteGz(_temp.File("img.gz"), ImagesIdx(5, 28, 28, RandomImages(5, 1)));

        Assert.Equal(labels, IdxReader.ReadLabels(labelsPath));
        var pair = IdxReader.ReadLabeledImages(imagesPath, labelsPath);
        Assert.Equal(5, pair.Count);
        Assert.Equal(labels, pair.Labels);
        Assert.Equal(RandomImages(5, 1), pair.Images.Pixels);
    }

    [Fact]
    public void WrongMagicNamesExpectedAndFoundInHex()
    {
        var images = WriteGz(_temp.File("img.gz"), ImagesIdx(1, 2, 2, new byte[4], magic: 0x12345678));
        Fails(() => IdxReader.ReadImages(images), images, "0x00000803", "0x12345678", "offset 0");

        // A labels file where an images file is expected: the message suggests the swap.
        var labels = WriteGz(_temp.File("lab.gz"), LabelsIdx([1, 2]));
        Fails(() => IdxReader.ReadImages(labels), labels, "0x00000803", "0x00000801", "swapped");
        Fails(() => IdxReader.ReadLabels(images), images, "0x00000801", "0x12345678");
    }

    [Fact]
    public void TruncatedPayloadSaysHowManyBytesWereExpectedAndFound()
    {
        // Header promises 3 images of 2×2 (12 bytes) but only 7 follow.
        var raw = ImagesIdx(3, 2, 2, new byte[12])[..(16 + 7)];
        var path = WriteGz(_temp.File("img.gz"), raw);
        Fails(() => IdxReader.ReadImages(path), path, "truncated", "12 payload bytes", "only 7", "offset 23");

        var labels = WriteGz(_temp.File("lab.gz"), LabelsIdx([1, 2], count: 5));
        Fails(() => IdxReader.ReadLabels(labels), labels, "truncated", "5 payload bytes", "only 2");
    }

    [Fact]
    public void HugeClaimOnTinyFileIsTruncationNotAnAllocationFailure()
    {
        // 2,000,000 images of 28×28 claimed (1.5 GB), one present.
        var raw = ImagesIdx(1, 28, 28, new byte[784]);
        BinaryPrimitives.WriteUInt32BigEndian(raw.AsSpan(4), 2_000_000);
        var path = WriteGz(_temp.File("img.gz"), raw);
        Fails(() => IdxReader.ReadImages(path), path, "truncated", "1568000000 payload bytes", "only 784");
    }

    [Fact]
    public void TrailingBytesAreAnError()
    {
        var raw = ImagesIdx(1, 2, 2, [1, 2, 3, 4]).Concat(new byte[] { 9, 9, 9 }).ToArray();
        var path = WriteGz(_temp.File("img.gz"), raw);
        Fails(() => IdxReader.ReadImages(path), path, "3 unexpected bytes", "offset 20");

        var labels = WriteGz(_temp.File("lab.gz"), LabelsIdx([1, 2, 3], count: 2));
        Fails(() => IdxReader.ReadLabels(labels), labels, "1 unexpected bytes", "offset 10");
    }

    [Fact]
    public void TruncatedGzipIsDetectedWhereverItIsCut()
    {
        // GZipStream itself ends quietly at a cut; the reader must notice from the payload length or the trailer.
        var compressed = Gzip(ImagesIdx(4, 28, 28, RandomImages(4, 2)));
        // Cut inside the deflate data, inside the 8-byte CRC/length trailer, and just its last byte.
        foreach (var keep in new[] { compressed.Length / 2, compressed.Length - 6, compressed.Length - 1 })
        {
            var path = _temp.File($"cut{keep}.gz");
            File.WriteAllBytes(path, compressed[..keep]);
            Fails(() => IdxReader.ReadImages(path), path, "truncated");
        }
    }

    [Fact]
    public void CorruptGzipIsDetected()
    {
        var compressed = Gzip(ImagesIdx(4, 28, 28, RandomImages(4, 3)));
        // Flip a bit of the stored CRC-32: the data decompresses, but the check must fail.
        var badCrc = (byte[])compressed.Clone();
        badCrc[^8] ^= 0x01;
        var path = _temp.File("crc.gz");
        File.WriteAllBytes(path, badCrc);
        Fails(() => IdxReader.ReadImages(path), path, "gzip");

        // A wrong stored length (ISIZE).
        var badLength = (byte[])compressed.Clone();
        badLength[^4] ^= 0x01;
        var lengthPath = _temp.File("isize.gz");
        File.WriteAllBytes(lengthPath, badLength);
        Fails(() => IdxReader.ReadImages(lengthPath), lengthPath, "gzip");
    }

    [Fact]
    public void UncompressedOrEmptyFilesAreNotGzip()
    {
        var raw = _temp.File("raw-idx");
        File.WriteAllBytes(raw, ImagesIdx(1, 2, 2, new byte[4]));
        Fails(() => IdxReader.ReadImages(raw), raw, "not a gzip file", "1F8B", "0000");

        var empty = _temp.File("empty.gz");
        File.WriteAllBytes(empty, []);
        Fails(() => IdxReader.ReadLabels(empty), empty, "not a gzip file", "empty file");
    }

    [Fact]
    public void ShortHeaderIsReported()
    {
        var path = WriteGz(_temp.File("img.gz"), ImagesIdx(1, 2, 2, [])[..10]);
        Fails(() => IdxReader.ReadImages(path), path, "only 10 bytes", "16-byte");
    }

    [Theory]
    [InlineData(1u, 0u, 28u, "row count 0", "offset 8")]
    [InlineData(1u, 28u, 0u, "column count 0", "offset 12")]
    [InlineData(1u, 5000u, 28u, "row count 5000", "1..4096")]
    [InlineData(0xFFFFFFFFu, 28u, 28u, "image count 0xFFFFFFFF", "offset 4")]
    [InlineData(1000u, 4096u, 4096u, "more than one array can hold", "16777216000")]
    public void AbsurdHeadersAreRejected(uint count, uint rows, uint columns, string fragment, string detail)
    {
        var raw = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(raw, IdxReader.ImagesMagic);
        BinaryPrimitives.WriteUInt32BigEndian(raw.AsSpan(4), count);
        BinaryPrimitives.WriteUInt32BigEndian(raw.AsSpan(8), rows);
        BinaryPrimitives.WriteUInt32BigEndian(raw.AsSpan(12), columns);
        var path = WriteGz(_temp.File("img.gz"), raw);
        Fails(() => IdxReader.ReadImages(path), path, fragment, detail);
    }

    [Fact]
    public void LabelOutOfRangeNamesItemAndOffset()
    {
        var path = WriteGz(_temp.File("lab.gz"), LabelsIdx([3, 9, 10, 4]));
        Fails(() => IdxReader.ReadLabels(path), path, "label 10", "item 2", "offset 10", "0..9");
    }

    [Fact]
    public void MismatchedCountsNameBothFiles()
    {
        var images = WriteGz(_temp.File("img.gz"), ImagesIdx(3, 28, 28, RandomImages(3, 4)));
        var labels = WriteGz(_temp.File("lab.gz"), LabelsIdx([1, 2]));
        var error = Fails(() => IdxReader.ReadLabeledImages(images, labels), images, labels, "3 images", "2 labels");
        Assert.NotNull(error);
    }

    [Fact]
    public void MissingFileIsFileNotFound()
    {
        var path = _temp.File("absent.gz");
        var error = Assert.Throws<FileNotFoundException>(() => IdxReader.ReadImages(path));
        Assert.Contains("absent.gz", error.Message, StringComparison.Ordinal);
    }
}
