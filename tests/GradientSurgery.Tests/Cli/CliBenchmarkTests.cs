using GradientSurgery.Data;
using SkiaSharp;

namespace GradientSurgery.Tests.Cli;

/// <summary>
/// Smoke runs of <c>gsurg train</c> on every benchmark other than MultiMNIST, each on small files generated in the data
/// set's real format: CIFAR-100's binary records and CelebA's annotation files and JPEGs.
/// </summary>
public sealed class CliBenchmarkTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-bench-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Data => Path.Combine(_directory, "data");

    [Theory]
    [InlineData("hps", "pcgrad")]
    [InlineData("crossstitch", "mean")]
    [InlineData("routing", "pcgrad")]
    public void Cifar100TrainsAsTwentyTasksAndEvaluates(string arch, string method)
    {
        WriteCifar(DatasetSplit.Train, perTask: 2);
        WriteCifar(DatasetSplit.Test, perTask: 1);
        var run = Path.Combine(_directory, "cifar");
        var (code, output, error) = GsurgConsole.Run(
            "train", "--benchmark", "cifar100", "--arch", arch, "--method", method, "--data", Data, "--epochs", "1", "--batch-size", "20", "--out", run);
        Assert.True(code == 0, error);
        Assert.Contains("Done", output);
        Assert.Contains("test acc mean", output);
        var metrics = File.ReadAllLines(Path.Combine(run, "metrics.csv"));
        Assert.Contains("test_accuracy/task19", metrics[0]);
        // Every task has labelled test examples, so no accuracy is missing.
        Assert.DoesNotContain(",,", metrics[1]);
        var (evaluated, evaluation, evalError) = GsurgConsole.Run("eval", "--run", run);
        Assert.True(evaluated == 0, evalError);
        Assert.Contains("task 19", evaluation);
        var markdown = Path.Combine(_directory, "cifar.md");
        var (summarized, _, summaryError) = GsurgConsole.Run("summarize", run, "--markdown", markdown, "--plot", Path.Combine(_directory, "cifar.png"));
        Assert.True(summarized == 0, summaryError);
        Assert.Contains("| mean accuracy (%) | worst task accuracy (%) |", File.ReadAllText(markdown));
        Assert.Contains($"| cifar100 | {arch} | {method} | 1 | 1 |", File.ReadAllText(markdown));
    }

    [Fact]
    public void CelebATrainsFortyAttributes()
    {
        WriteCelebA(images: 6, testImages: [4, 5]);
        var run = Path.Combine(_directory, "celeba");
        var (code, _, error) = GsurgConsole.Run(
            "train", "--benchmark", "celeba", "--arch", "mmoe", "--method", "pcgrad", "--data", Data, "--epochs", "1", "--batch-size", "4", "--out", run);
        Assert.True(code == 0, error);
        var metrics = File.ReadAllLines(Path.Combine(run, "metrics.csv"));
        Assert.Contains("test_accuracy/task39", metrics[0]);
        Assert.Equal(2, metrics.Length);
    }

    [Fact]
    public void MissingDataIsAOneLineError()
    {
        var (missing, _, missingError) = GsurgConsole.Run("train", "--benchmark", "cifar100", "--data", Path.Combine(_directory, "none"), "--out", Path.Combine(_directory, "x"));
        Assert.Equal(2, missing);
        Assert.Contains("train.bin", missingError);
        Assert.Contains("gsurg data download cifar100", missingError);
        // NYUv2 trains now: CliNyuv2Tests.
    }

    /// <summary>Records of every coarse class, fine classes taken in turn, with random pixels.</summary>
    private void WriteCifar(DatasetSplit split, int perTask)
    {
        Directory.CreateDirectory(Cifar100Mtl.Folder(Data));
        var random = new Random(split == DatasetSplit.Train ? 1 : 2);
        var records = new List<byte>();
        for (var k = 0; k < perTask; k++)
        {
            for (var coarse = 0; coarse < Cifar100Mtl.TaskCount; coarse++)
            {
                var fine = Cifar100Mtl.FineClassesOfTask(coarse)[k % Cifar100Mtl.ClassesPerTask];
                var pixels = new byte[Cifar100Mtl.PixelsPerImage];
                random.NextBytes(pixels);
                records.AddRange([(byte)coarse, (byte)fine, .. pixels]);
            }
        }
        File.WriteAllBytes(Cifar100Mtl.RecordsPath(Data, split), [.. records]);
    }

    /// <summary>CelebA's two annotation files and small solid-colour JPEGs; the listed images form the test partition.</summary>
    private void WriteCelebA(int images, int[] testImages)
    {
        var folder = CelebADataset.Folder(Data);
        var jpegs = Path.Combine(folder, CelebADataset.ImagesFolderName);
        Directory.CreateDirectory(jpegs);
        string Name(int i) => $"{i + 1:000000}.jpg";
        var attributes = new List<string> { $"{images}", string.Join(' ', Enumerable.Range(1, 40).Select(a => $"Attribute_{a}")) };
        var partition = new List<string>();
        for (var i = 0; i < images; i++)
        {
            attributes.Add(Name(i) + " " + string.Join(' ', Enumerable.Range(0, 40).Select(a => (i + a) % 3 == 0 ? "1" : "-1")));
            partition.Add($"{Name(i)} {(testImages.Contains(i) ? 2 : 0)}");
            using var bitmap = new SKBitmap(17, 21, SKColorType.Rgba8888, SKAlphaType.Opaque);
            bitmap.Erase(new SKColor((byte)(40 * i), (byte)(255 - 40 * i), 90));
            using var image = SKImage.FromBitmap(bitmap);
            using var encoded = image.Encode(SKEncodedImageFormat.Jpeg, 90);
            File.WriteAllBytes(Path.Combine(jpegs, Name(i)), encoded.ToArray());
        }
        File.WriteAllText(Path.Combine(folder, CelebADataset.AttributesFileName), string.Join('\n', attributes) + "\n");
        File.WriteAllText(Path.Combine(folder, CelebADataset.PartitionFileName), string.Join('\n', partition) + "\n");
    }
}
