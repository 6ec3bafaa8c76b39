using System.Text.Json;
using GradientSurgery.Models;

namespace GradientSurgery.Tests.Cli;

/// <summary><c>gsurg train --arch</c>: every architecture with the mean and PCGrad trains, writes its run, evaluates and summarises.</summary>
public sealed class CliArchitectureTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-arch-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string> Names => [.. Architectures.Names];

    [Theory]
    [MemberData(nameof(Names))]
    public void EveryArchitectureTrainsWithMeanAndPcgrad(string arch)
    {
        var data = Path.Combine(_directory, "data");
        GradientSurgery.Tests.Data.IdxTestFiles.WriteSource(data, "mnist", trainCount: 32, testCount: 20, seed: 3);
        var runs = new List<string>();
        foreach (var method in new[] { "mean", "pcgrad" })
        {
            var run = Path.Combine(_directory, $"{arch}-{method}");
            var (code, output, error) = GsurgConsole.Run(
                "train", "--arch", arch, "--method", method, "--data", data, "--epochs", "1", "--batch-size", "16",
                "--cache", Path.Combine(_directory, "cache"), "--out", run);
            Assert.True(code == 0, error);
            Assert.Contains($"Training {arch} with {method}", output);
            Assert.Equal(2, File.ReadAllLines(Path.Combine(run, "metrics.csv")).Length);
            Assert.Equal(arch, JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "run.json"))).RootElement.GetProperty("Architecture").GetString());
            var (evaluated, _, evalError) = GsurgConsole.Run("eval", "--run", run, "--cache", Path.Combine(_directory, "cache"));
            Assert.True(evaluated == 0, evalError);
            runs.Add(run);
        }
        var markdown = Path.Combine(_directory, "summary.md");
        var (summarized, _, summaryError) = GsurgConsole.Run(["summarize", .. runs, "--markdown", markdown]);
        Assert.True(summarized == 0, summaryError);
        var text = File.ReadAllText(markdown);
        Assert.Contains($"| multimnist | {arch} | mean | 1 | 1 |", text);
        Assert.Contains($"| multimnist | {arch} | pcgrad | 1 | 1 |", text);
    }

    [Fact]
    public void AnUnknownArchitectureIsABadArgument()
    {
        var (code, _, error) = GsurgConsole.Run("train", "--arch", "resnet", "--out", Path.Combine(_directory, "x"));
        Assert.Equal(2, code);
        Assert.Contains("resnet", error);
    }
}
