using System.Globalization;
using GradientSurgery.Data;
using static GradientSurgery.Tests.Data.NpyTestFiles;

namespace GradientSurgery.Tests.Cli;

/// <summary>
/// Smoke runs of <c>gsurg train --benchmark nyuv2</c> on small NYUv2 splits generated in MTAN's format (one .npy per image
/// and modality, channel-last, 32×32 pixels so that SegNet's five 2×2 poolings divide them).
/// </summary>
public sealed class CliNyuv2Tests : IDisposable
{
    private const int Side = 32;

    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-nyuv2-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Data => Path.Combine(_directory, "data");

    [Theory]
    [InlineData("hps", "pcgrad", null)]
    [InlineData("mtan", "mean", "8,8,8,8,8")]
    public void TrainsOneEpochAndEvaluates(string arch, string method, string? filters)
    {
        WriteSplits();
        var run = Path.Combine(_directory, arch);
        var (code, output, error) = Train(arch, method, run, filters is null ? [] : ["--filters", filters]);
        Assert.True(code == 0, error);
        Assert.Contains("Done", output);
        var metrics = File.ReadAllLines(Path.Combine(run, "metrics.csv"));
        Assert.Equal(2, metrics.Length);
        foreach (var column in new[]
        {
            "train_loss/segmentation", "train_loss/depth", "train_loss/normal", "test_loss/segmentation", "test_loss/depth", "test_loss/normal",
            "test/segmentation_miou", "test/segmentation_pixel_accuracy", "test/depth_abs_error", "test/depth_rel_error",
            "test/normal_mean_angle", "test/normal_median_angle", "test/normal_within_11.25", "test/normal_within_22.5", "test/normal_within_30",
        })
        {
            Assert.Contains(column, metrics[0].Split(','));
        }
        var (evaluated, evaluation, evalError) = GsurgConsole.Run("eval", "--run", run);
        Assert.True(evaluated == 0, evalError);
        Assert.Contains("test/segmentation_miou", evaluation);
        Assert.Contains("test/normal_median_angle", evaluation);

        var markdown = Path.Combine(_directory, "nyuv2.md");
        var (summarized, _, summaryError) = GsurgConsole.Run("summarize", run, "--markdown", markdown);
        Assert.True(summarized == 0, summaryError);
        Assert.Contains("| mIoU (%) |", File.ReadAllText(markdown));
        Assert.Contains($"| {arch} | {method} | 1 | 1 |", File.ReadAllText(markdown));
    }

    [Fact]
    public void ResumeReachesTheMetricsOfAnUninterruptedRun()
    {
        WriteSplits();
        var whole = Path.Combine(_directory, "whole");
        var resumed = Path.Combine(_directory, "resumed");
        var (code, _, error) = Train("hps", "pcgrad", whole);
        Assert.True(code == 0, error);
        var (stopped, stoppedOutput, stoppedError) = Train("hps", "pcgrad", resumed, "--stop-after-steps", "1");
        Assert.True(stopped == 0, stoppedError);
        Assert.Contains("Stopped", stoppedOutput);
        var (continued, continuedOutput, continuedError) = Train("hps", "pcgrad", resumed, "--resume");
        Assert.True(continued == 0, continuedError);
        Assert.Contains("Resuming at epoch 1, batch 1", continuedOutput);
        Assert.Equal(WithoutTime(whole), WithoutTime(resumed));
    }

    [Fact]
    public void MissingDataAndArchitecturesWithoutADenseVariantAreOneLineErrors()
    {
        var (missing, _, missingError) = GsurgConsole.Run("train", "--benchmark", "nyuv2", "--data", Path.Combine(_directory, "none"), "--out", Path.Combine(_directory, "x"));
        Assert.Equal(2, missing);
        Assert.Contains(Path.Combine("nyuv2", "train"), missingError);
        Assert.Contains("gsurg data download nyuv2", missingError);

        WriteSplits();
        var (refused, _, refusedError) = Train("crossstitch", "pcgrad", Path.Combine(_directory, "y"));
        Assert.Equal(2, refused);
        Assert.Contains("hps, mtan", refusedError);

        var (badWidths, _, badWidthsError) = Train("hps", "pcgrad", Path.Combine(_directory, "z"), "--filters", "8,x");
        Assert.Equal(2, badWidths);
        Assert.Contains("'x'", badWidthsError);
        var (notDense, _, notDenseError) = GsurgConsole.Run("train", "--benchmark", "cifar100", "--filters", "8,8", "--data", Data, "--out", Path.Combine(_directory, "w"));
        Assert.Equal(2, notDense);
        Assert.Contains("--filters", notDenseError);
    }

    private (int Code, string Output, string Error) Train(string arch, string method, string run, params string[] extra) => GsurgConsole.Run(
        ["train", "--benchmark", "nyuv2", "--arch", arch, "--method", method, "--data", Data, "--epochs", "1", "--batch-size", "2", "--out", run, .. extra]);

    /// <summary>metrics.csv without the wall-clock column, which differs between any two runs.</summary>
    private static string[] WithoutTime(string run)
    {
        var lines = File.ReadAllLines(Path.Combine(run, "metrics.csv")).Select(l => l.Split(',')).ToArray();
        var time = Array.IndexOf(lines[0], "time/epoch_seconds");
        Assert.True(time >= 0);
        return [.. lines.Select(cells => string.Join(",", cells.Where((_, k) => k != time)))];
    }

    /// <summary>Four training and two validation images with random pixels, some unlabelled pixels, missing depth and normals.</summary>
    private void WriteSplits()
    {
        WriteSplit(Nyuv2Split.Train, 4, seed: 1);
        WriteSplit(Nyuv2Split.Validation, 2, seed: 2);
    }

    private void WriteSplit(Nyuv2Split split, int count, int seed)
    {
        var folder = Nyuv2Dataset.SplitFolder(Data, split);
        var random = new Random(seed);
        const int pixels = Side * Side;
        for (var i = 0; i < count; i++)
        {
            var image = new float[pixels * 3];
            var depth = new float[pixels];
            var normal = new float[pixels * 3];
            var label = new float[pixels];
            for (var p = 0; p < pixels; p++)
            {
                for (var c = 0; c < 3; c++)
                {
                    image[p * 3 + c] = random.NextSingle();
                }
                var missing = p % 7 == 0;
                depth[p] = missing ? 0 : 0.5f + 3 * random.NextSingle();
                var (x, y, z) = (random.NextSingle() - 0.5f, random.NextSingle() - 0.5f, 0.2f + random.NextSingle());
                var norm = MathF.Sqrt(x * x + y * y + z * z);
                (normal[p * 3], normal[p * 3 + 1], normal[p * 3 + 2]) = missing ? (0f, 0f, 0f) : (x / norm, y / norm, z / norm);
                label[p] = p % 5 == 0 ? -1 : random.Next(Nyuv2Dataset.ClassCount);
            }
            string File(string modality) => Path.Combine(folder, modality, i.ToString(CultureInfo.InvariantCulture) + ".npy");
            WriteFloats(File("image"), image, Side, Side, 3);
            WriteFloats(File("depth"), depth, Side, Side, 1);
            WriteFloats(File("normal"), normal, Side, Side, 3);
            WriteFloats(File("label"), label, Side, Side);
        }
    }
}
