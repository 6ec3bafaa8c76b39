using GradientSurgery.Data;
using static GradientSurgery.Tests.Data.NpyTestFiles;

namespace GradientSurgery.Tests.Data;

/// <summary>NYUv2 in MTAN's layout, on generated 2 × 3 pixel examples written as NumPy would.</summary>
public sealed class Nyuv2DatasetTests : IDisposable
{
    private const int H = 2;
    private const int W = 3;
    private const int P = H * W;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string SplitFolder => Nyuv2Dataset.SplitFolder(_temp.Path, Nyuv2Split.Train);

    private string FilePath(string modality, int index) => Path.Combine(SplitFolder, modality, $"{index}.npy");

    // Channel-last values that encode example, pixel and channel, so that any transposition mistake shows.
    private static float ImageValue(int i, int p, int c) => i * 0.5f + p * 0.05f + c * 0.01f;

    private static float NormalValue(int i, int p, int c) => -1 + i + p * 0.1f + c * 0.001f;

    private static int LabelValue(int i, int p) => p == 4 ? -1 : (i * 5 + p) % 13;

    private void WriteExample(int i, bool labelsAsInt64 = false)
    {
        var image = new float[P * 3];
        var normal = new float[P * 3];
        var depth = new float[P];
        for (var p = 0; p < P; p++)
        {
            for (var c = 0; c < 3; c++)
            {
                image[p * 3 + c] = ImageValue(i, p, c);
                normal[p * 3 + c] = NormalValue(i, p, c);
            }
            depth[p] = p == 2 ? 0 : 1 + i + p;
        }
        WriteFloats(FilePath("image", i), image, H, W, 3);
        WriteFloats(FilePath("depth", i), depth, H, W, 1);
        WriteFloats(FilePath("normal", i), normal, H, W, 3);
        var labels = Enumerable.Range(0, P).Select(p => LabelValue(i, p)).ToArray();
        if (labelsAsInt64)
        {
            File.WriteAllBytes(FilePath("label", i), Npy(Header("<i8", H, W), Int64s([.. labels.Select(l => (long)l)])));
        }
        else
        {
            WriteFloats(FilePath("label", i), [.. labels.Select(l => (float)l)], H, W);
        }
    }

    private void WriteSplit(int count)
    {
        for (var i = 0; i < count; i++)
        {
            WriteExample(i, labelsAsInt64: i % 2 == 1);
        }
    }

    [Fact]
    public void ACorrectSplitRoundTripsChannelFirst()
    {
        WriteSplit(2);

        var data = Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Train);

        Assert.Equal((2, H, W), (data.Count, data.Height, data.Width));
        for (var i = 0; i < 2; i++)
        {
            for (var p = 0; p < P; p++)
            {
                for (var c = 0; c < 3; c++)
                {
                    Assert.Equal(ImageValue(i, p, c), data.Images[(i * 3 + c) * P + p]);
                    Assert.Equal(NormalValue(i, p, c), data.Normals[(i * 3 + c) * P + p]);
                }
                Assert.Equal(p == 2 ? 0 : 1 + i + p, data.Depth[i * P + p]);
                Assert.Equal(LabelValue(i, p), data.Segmentation[i * P + p]);
            }
        }
    }

    [Fact]
    public void AMissingSplitSaysWhatToPlaceWhere()
    {
        var error = Assert.Throws<FileNotFoundException>(() => Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Validation));

        var val = Path.Combine(_temp.Path, "nyuv2", "val");
        Assert.StartsWith(val + Path.DirectorySeparatorChar + " is missing", error.Message);
        Assert.Contains("nyuv2.zip", error.Message);
        Assert.Contains(Nyuv2Dataset.ArchiveUrl, error.Message);
        Assert.Contains("https://github.com/lorenmt/mtan", error.Message);
        Assert.Contains($"'gsurg data download nyuv2 --to {_temp.Path}'", error.Message);
    }

    [Fact]
    public void AMissingModalityFolderOrFileIsNamed()
    {
        WriteSplit(2);
        File.Delete(FilePath("depth", 1));
        var file = Assert.Throws<FileNotFoundException>(() => Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Train));
        Assert.Equal(FilePath("depth", 1), file.FileName);
        Assert.StartsWith(FilePath("depth", 1) + " is missing", file.Message);

        Directory.Delete(Path.Combine(SplitFolder, "normal"), recursive: true);
        var folder = Assert.Throws<FileNotFoundException>(() => Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Train));
        Assert.StartsWith(Path.Combine(SplitFolder, "normal") + Path.DirectorySeparatorChar + " is missing", folder.Message);
    }

    [Fact]
    public void AnEmptyImageFolderIsMissingData()
    {
        foreach (var modality in Nyuv2Dataset.Modalities)
        {
            Directory.CreateDirectory(Path.Combine(SplitFolder, modality));
        }
        var error = Assert.Throws<FileNotFoundException>(() => Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Train));
        Assert.Contains(FilePath("image", 0), error.Message);
    }

    [Fact]
    public void FoldersThatDisagreeOrOddNamesAreRefused()
    {
        WriteSplit(2);
        WriteFloats(FilePath("normal", 2), new float[P * 3], H, W, 3);
        var extra = Assert.Throws<InvalidDataException>(() => Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Train));
        Assert.Contains(FilePath("normal", 2), extra.Message);
        Assert.Contains("holds 2 files", extra.Message);

        File.Delete(FilePath("normal", 2));
        var odd = Path.Combine(SplitFolder, "label", "01.npy");
        File.WriteAllBytes(odd, []);
        var name = Assert.Throws<InvalidDataException>(() => Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Train));
        Assert.Contains(odd, name.Message);
        Assert.Contains("unexpected file name", name.Message);
    }

    [Fact]
    public void AnOutOfRangeLabelNamesTheFileAndPixel()
    {
        WriteSplit(2);
        var labels = Enumerable.Range(0, P).Select(p => (float)LabelValue(1, p)).ToArray();
        labels[5] = 13;
        WriteFloats(FilePath("label", 1), labels, H, W);

        var error = Assert.Throws<InvalidDataException>(() => Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Train));

        Assert.Contains(FilePath("label", 1), error.Message);
        Assert.Contains("label 13 at pixel 5 (row 1, column 2)", error.Message);
    }

    [Fact]
    public void AShapeThatDisagreesWithTheSplitIsRefused()
    {
        WriteSplit(2);
        WriteFloats(FilePath("depth", 1), new float[P], H, W);
        var depth = Assert.Throws<InvalidDataException>(() => Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Train));
        Assert.Contains(FilePath("depth", 1), depth.Message);
        Assert.Contains("shape (2, 3), expected (2, 3, 1)", depth.Message);

        WriteSplit(2);
        WriteFloats(FilePath("image", 0), new float[P], H, W, 1);
        var image = Assert.Throws<InvalidDataException>(() => Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Train));
        Assert.Contains(FilePath("image", 0), image.Message);
        Assert.Contains("expected (H, W, 3)", image.Message);
    }

    [Fact]
    public void ATruncatedFileInsideASplitIsNamed()
    {
        WriteSplit(2);
        var path = FilePath("normal", 1);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]);

        var error = Assert.Throws<InvalidDataException>(() => Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Train));

        Assert.Contains(path, error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void NonFiniteValuesAreRefused()
    {
        WriteSplit(1);
        var depth = new float[P];
        depth[3] = float.NaN;
        WriteFloats(FilePath("depth", 0), depth, H, W, 1);
        var error = Assert.Throws<InvalidDataException>(() => Nyuv2Dataset.Load(_temp.Path, Nyuv2Split.Train));
        Assert.Contains(FilePath("depth", 0), error.Message);
        Assert.Contains("element 3", error.Message);
    }
}
