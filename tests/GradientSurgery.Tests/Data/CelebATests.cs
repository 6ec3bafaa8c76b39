using GradientSurgery.Data;
using SkiaSharp;

namespace GradientSurgery.Tests.Data;

/// <summary>CelebA on generated annotation files and a handful of tiny JPEGs in the published layout.</summary>
public sealed class CelebATests : IDisposable
{
    private static readonly string[] Names = [.. Enumerable.Range(1, 40).Select(a => $"Attr_{a:00}")];

    // Solid colours, one per image, far enough apart that JPEG loss cannot confuse them.
    private static readonly (byte R, byte G, byte B)[] Colours = [(220, 30, 30), (30, 220, 30), (30, 30, 220), (230, 230, 40), (128, 128, 128)];

    private static readonly int[] Partition = [0, 2, 0, 1, 0];

    private readonly TempDirectory _temp = new();

    public CelebATests() => Directory.CreateDirectory(Folder);

    public void Dispose() => _temp.Dispose();

    private string Folder => CelebADataset.Folder(_temp.Path);

    private string AttributesPath => Path.Combine(Folder, CelebADataset.AttributesFileName);

    private string PartitionPath => Path.Combine(Folder, CelebADataset.PartitionFileName);

    private static string FileName(int i) => $"{i + 1:000000}.jpg";

    private static int Value(int image, int attribute) => (image * 7 + attribute * 3) % 5 < 2 ? 1 : -1;

    private static string AttributeLine(int image) =>
        // Published files align the values with runs of spaces; a single space must parse the same.
        FileName(image) + (image % 2 == 0 ? " " : "  ") + string.Join(image % 2 == 0 ? " " : "  ", Enumerable.Range(0, 40).Select(a => Value(image, a)));

    private List<string> AttributeLines(int count = 5) => [$"{count}", string.Join(' ', Names), .. Enumerable.Range(0, count).Select(AttributeLine)];

    private void WriteAttributes(IEnumerable<string> lines, string newline = "\n") => File.WriteAllText(AttributesPath, string.Join(newline, lines) + newline);

    private void WritePartition(IEnumerable<string> lines) => File.WriteAllText(PartitionPath, string.Join('\n', lines) + "\n");

    private static List<string> PartitionLines(int count = 5) => [.. Enumerable.Range(0, count).Select(i => $"{FileName(i)} {Partition[i]}")];

    private static byte[] Jpeg((byte R, byte G, byte B) colour, int width = 9, int height = 11)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        bitmap.Erase(new SKColor(colour.R, colour.G, colour.B));
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 95);
        return data.ToArray();
    }

    private void WriteAll(int count = 5)
    {
        WriteAttributes(AttributeLines(count));
        WritePartition(PartitionLines(count));
        var images = Path.Combine(Folder, CelebADataset.ImagesFolderName);
        Directory.CreateDirectory(images);
        for (var i = 0; i < count; i++)
        {
            File.WriteAllBytes(Path.Combine(images, FileName(i)), Jpeg(Colours[i]));
        }
    }

    [Fact]
    public void AnnotationsParseExactlyWithRunsOfSpacesAndWindowsLineEnds()
    {
        WriteAll();
        WriteAttributes(AttributeLines(), "\r\n");

        var annotations = CelebADataset.ReadAnnotations(_temp.Path);

        Assert.Equal(5, annotations.Count);
        Assert.Equal(Names, annotations.AttributeNames);
        Assert.Equal(Enumerable.Range(0, 5).Select(FileName), annotations.FileNames);
        Assert.Equal(new byte[] { 0, 2, 0, 1, 0 }, annotations.Partitions);
        for (var i = 0; i < 5; i++)
        {
            for (var a = 0; a < 40; a++)
            {
                Assert.Equal(Value(i, a) == 1 ? 1 : 0, annotations.Labels[i * 40 + a]);
            }
        }
    }

    [Fact]
    public void ASplitLoadsResizedPlanarImagesAndItsLabelsThenComesFromTheCache()
    {
        WriteAll();

        var train = CelebADataset.Load(_temp.Path, CelebASplit.Train, side: 4);

        Assert.Equal(["000001.jpg", "000003.jpg", "000005.jpg"], train.FileNames);
        Assert.Equal(3 * 3 * 16, train.Images.Length);
        Assert.False(train.LoadedFromCache);
        Assert.Null(train.CacheRebuildReason);
        Assert.Equal(CelebADataset.CachePath(_temp.Path, CelebASplit.Train, 4), train.CachePath);
        foreach (var (k, image) in new[] { (0, 0), (1, 2), (2, 4) })
        {
            var colour = Colours[image];
            for (var p = 0; p < 16; p++)
            {
                Assert.InRange(train.Images[(k * 3 + 0) * 16 + p], colour.R - 8, colour.R + 8);
                Assert.InRange(train.Images[(k * 3 + 1) * 16 + p], colour.G - 8, colour.G + 8);
                Assert.InRange(train.Images[(k * 3 + 2) * 16 + p], colour.B - 8, colour.B + 8);
            }
            for (var a = 0; a < 40; a++)
            {
                Assert.Equal(Value(image, a) == 1 ? 1 : 0, train.Labels[k * 40 + a]);
            }
        }

        var again = CelebADataset.Load(_temp.Path, CelebASplit.Train, side: 4);
        Assert.True(again.LoadedFromCache);
        Assert.Equal(train.Images, again.Images);
        Assert.Equal(train.Labels, again.Labels);

        var test = CelebADataset.Load(_temp.Path, CelebASplit.Test, side: 4);
        Assert.Equal(["000002.jpg"], test.FileNames);
        Assert.False(test.LoadedFromCache);
        Assert.Empty(Directory.GetFiles(Folder, "*.tmp"));
    }

    [Fact]
    public void ACorruptOrStaleCacheIsRebuilt()
    {
        WriteAll();
        var first = CelebADataset.Load(_temp.Path, CelebASplit.Train, side: 4);
        var cache = first.CachePath!;

        var bytes = File.ReadAllBytes(cache);
        bytes[100] ^= 0xFF;
        File.WriteAllBytes(cache, bytes);
        var corrupt = CelebADataset.Load(_temp.Path, CelebASplit.Train, side: 4);
        Assert.False(corrupt.LoadedFromCache);
        Assert.Contains("checksum mismatch", corrupt.CacheRebuildReason);
        Assert.Equal(first.Images, corrupt.Images);

        File.WriteAllBytes(cache, File.ReadAllBytes(cache)[..^10]);
        var truncated = CelebADataset.Load(_temp.Path, CelebASplit.Train, side: 4);
        Assert.Contains("length", truncated.CacheRebuildReason);

        // Changing a label changes the attribute file's hash, which the cache records.
        var lines = AttributeLines();
        lines[2] = lines[2].Replace(" -1", " 1", StringComparison.Ordinal);
        WriteAttributes(lines);
        var stale = CelebADataset.Load(_temp.Path, CelebASplit.Train, side: 4);
        Assert.False(stale.LoadedFromCache);
        Assert.Contains("list_attr_celeba.txt changed", stale.CacheRebuildReason);
        Assert.True(CelebADataset.Load(_temp.Path, CelebASplit.Train, side: 4).LoadedFromCache);
    }

    [Fact]
    public void WithoutTheCacheNothingIsWritten()
    {
        WriteAll();
        var data = CelebADataset.Load(_temp.Path, CelebASplit.Validation, side: 2, useCache: false);
        Assert.Equal(["000004.jpg"], data.FileNames);
        Assert.Null(data.CachePath);
        Assert.Empty(Directory.GetFiles(Folder, "*" + CelebADataset.CacheExtension));
    }

    [Fact]
    public void MissingFilesSayWhatToPlaceWhere()
    {
        var error = Assert.Throws<FileNotFoundException>(() => CelebADataset.Load(_temp.Path, CelebASplit.Train));
        Assert.StartsWith(AttributesPath + " is missing", error.Message);
        Assert.Contains(CelebADataset.OfficialPage, error.Message);
        Assert.True(error.Message.Contains("Google Drive"), error.Message);
        Assert.True(error.Message.Contains("Img/img_align_celeba.zip"), error.Message);
        Assert.True(error.Message.Contains($"'gsurg data download celeba --to {_temp.Path}'"), error.Message);

        WriteAttributes(AttributeLines());
        Assert.StartsWith(PartitionPath + " is missing", Assert.Throws<FileNotFoundException>(() => CelebADataset.Load(_temp.Path, CelebASplit.Train)).Message);

        WritePartition(PartitionLines());
        var folder = Path.Combine(Folder, CelebADataset.ImagesFolderName);
        Assert.StartsWith(folder + Path.DirectorySeparatorChar + " is missing", Assert.Throws<FileNotFoundException>(() => CelebADataset.Load(_temp.Path, CelebASplit.Train)).Message);
    }

    [Fact]
    public void AMissingOrUndecodableImageIsNamed()
    {
        WriteAll();
        var third = Path.Combine(Folder, CelebADataset.ImagesFolderName, FileName(2));
        File.Delete(third);
        var missing = Assert.Throws<FileNotFoundException>(() => CelebADataset.Load(_temp.Path, CelebASplit.Train, side: 4, useCache: false));
        Assert.Equal(third, missing.FileName);
        Assert.StartsWith(third + " is missing", missing.Message);

        File.WriteAllText(third, "not a JPEG at all");
        var garbage = Assert.Throws<InvalidDataException>(() => CelebADataset.Load(_temp.Path, CelebASplit.Train, side: 4, useCache: false));
        Assert.True(garbage.Message.Contains(third), garbage.Message);

        var jpeg = Jpeg(Colours[2], 64, 64);
        File.WriteAllBytes(third, jpeg[..(jpeg.Length / 2)]);
        var truncated = Assert.Throws<InvalidDataException>(() => CelebADataset.Load(_temp.Path, CelebASplit.Train, side: 4, useCache: false));
        Assert.True(truncated.Message.Contains(third), truncated.Message);
        Assert.True(truncated.Message.Contains("truncated or corrupt"), truncated.Message);
    }

    [Fact]
    public void TheImageCountMustMatchTheLines()
    {
        WriteAll();
        var lines = AttributeLines();
        lines[0] = "6";
        WriteAttributes(lines);
        var error = Assert.Throws<InvalidDataException>(() => CelebADataset.ReadAnnotations(_temp.Path));
        Assert.True(error.Message.Contains($"'{AttributesPath}' line 1: the header promises 6 images (token '6') but 5 image lines follow"), error.Message);

        lines[0] = "five";
        WriteAttributes(lines);
        Assert.True(Assert.Throws<InvalidDataException>(() => CelebADataset.ReadAnnotations(_temp.Path)).Message.Contains("line 1: expected the image count (a positive integer) alone, found 'five'"), Assert.Throws<InvalidDataException>(() => CelebADataset.ReadAnnotations(_temp.Path)).Message);
    }

    [Theory]
    [InlineData(1, "39 names", "line 2: expected 40 attribute names, found 39")]
    [InlineData(4, "39 values", "line 5: expected a file name and 40 values, found 39 values after '000003.jpg'")]
    [InlineData(4, "value 0", "line 5: value '0' of attribute 7 (Attr_07) is not 1 or -1")]
    [InlineData(4, "value +1", "line 5: value '+1' of attribute 7 (Attr_07) is not 1 or -1")]
    [InlineData(4, "blank", "line 5: blank line")]
    [InlineData(4, "duplicate", "line 5: image '000001.jpg' is listed twice (first on line 3)")]
    [InlineData(4, "path", "line 5: '../000003.jpg' is not a plain image file name")]
    public void MalformedAttributeLinesNameTheLineAndToken(int index, string defect, string expected)
    {
        WriteAll();
        var lines = AttributeLines();
        var tokens = lines[index].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        lines[index] = defect switch
        {
            "39 names" or "39 values" => string.Join(' ', tokens.SkipLast(1)),
            "value 0" => string.Join(' ', tokens.Select((t, k) => k == 7 ? "0" : t)),
            "value +1" => string.Join(' ', tokens.Select((t, k) => k == 7 ? "+1" : t)),
            "blank" => "   ",
            "duplicate" => string.Join(' ', tokens.Select((t, k) => k == 0 ? FileName(0) : t)),
            "path" => "../" + lines[index],
            _ => throw new ArgumentOutOfRangeException(nameof(defect)),
        };
        WriteAttributes(lines);

        var error = Assert.Throws<InvalidDataException>(() => CelebADataset.ReadAnnotations(_temp.Path));

        Assert.True(error.Message.Contains($"'{AttributesPath}' {expected}"), error.Message);
    }

    [Theory]
    [InlineData("bad split", "line 2: partition '3' of '000002.jpg' is not 0 (train), 1 (validation) or 2 (test)")]
    [InlineData("unknown", "line 2: image '000099.jpg' is not in the attribute file")]
    [InlineData("missing", "image '000005.jpg' (line 7 of the attribute file) has no partition line")]
    [InlineData("twice", "line 5: image '000001.jpg' is listed twice (first on line 1)")]
    [InlineData("three tokens", "line 2: expected '<file> <0|1|2>', found 3 tokens ('000002.jpg 2 x')")]
    [InlineData("blank", "line 2: blank line")]
    public void ThePartitionFileMustCoverEveryImageOnce(string defect, string expected)
    {
        WriteAll();
        var lines = PartitionLines();
        switch (defect)
        {
            case "bad split":
                lines[1] = $"{FileName(1)} 3";
                break;
            case "unknown":
                lines[1] = "000099.jpg 0";
                break;
            case "missing":
                lines.RemoveAt(4);
                break;
            case "twice":
                lines[4] = $"{FileName(0)} 0";
                break;
            case "three tokens":
                lines[1] += " x";
                break;
            case "blank":
                lines[1] = string.Empty;
                break;
        }
        WritePartition(lines);

        var error = Assert.Throws<InvalidDataException>(() => CelebADataset.ReadAnnotations(_temp.Path));

        Assert.Contains(PartitionPath, error.Message);
        Assert.True(error.Message.Contains(expected), error.Message);
    }
}
