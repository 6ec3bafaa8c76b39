using GradientSurgery.Cli;
using GradientSurgery.Environments;
using GradientSurgery.Experiments.Reinforcement;
using GradientSurgery.Rl;

namespace GradientSurgery.Tests.Cli;

public sealed class CliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static (int Code, string Output, string Error) Run(params string[] args) => GsurgConsole.Run(args);

    private static (int Code, string Output, string Error) Run(CancellationToken stop, params string[] args) => GsurgConsole.Run(stop, args);

    [Theory]
    [InlineData("toy --steps -1", "--steps must be a positive integer")]
    [InlineData("toy --steps 0", "--steps must be a positive integer")]
    [InlineData("toy --lr -0.1", "--lr must be a positive number")]
    [InlineData("toy --methods pcgrad,nosuchmethod", "Unknown method 'nosuchmethod'")]
    [InlineData("toy --methods pcgrad:colour=blue", "no argument 'colour'")]
    [InlineData("toy --methods famo:beta=1", "no argument 'beta'")]
    [InlineData("toy --methods dwa:t=-1", "temperature")]
    [InlineData("toy --epoch-steps 0", "--epoch-steps must be a positive integer")]
    [InlineData("demo --methods mean,nosuch", "loss weightings uw, dwa, gradnorm, famo, gls, stch")]
    [InlineData("train --method nosuch", "Known methods: aggregators sum, mean, pcgrad")]
    [InlineData("train --method stch:mu=0", "μ must be")]
    [InlineData("toy --landscape moon", "moon")]
    [InlineData("toy --start 1;2", "is not a point")]
    [InlineData("demo --seeds 0", "--seeds must be a positive integer")]
    [InlineData("demo --tasks 1", "--tasks must be at least 2")]
    [InlineData("frobnicate", "frobnicate")]
    [InlineData("rl train --suite mt99", "Unknown suite 'mt99'")]
    [InlineData("rl train --method sacx", "The SAC variants are mtsac, mhsac, single")]
    [InlineData("rl train --method famo", "FAMO needs non-negative task losses")]
    [InlineData("rl train --steps 0", "--steps must be a positive integer")]
    [InlineData("rl train --steps -5", "--steps must be a positive integer")]
    [InlineData("rl train --hidden 64,x", "--hidden takes comma-separated positive widths")]
    [InlineData("rl eval --run /nonexistent/run", "no run directory")]
    [InlineData("rl train --task-gradients two-pass", "two-pass")]
    public void BadArgumentsExitNonZeroWithOneLine(string commandLine, string reason)
    {
        var (code, _, error) = Run(commandLine.Split(' '));
        Assert.Equal(GsurgApp.UsageError, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("gsurg: ", lines[0]);
        Assert.Contains(reason, lines[0]);
    }

    [Fact]
    public void UnwritableOutputDirectoryIsAUsageError()
    {
        var blocker = Path.Combine(_directory, "a-file");
        File.WriteAllText(blocker, "not a directory");
        var (code, _, error) = Run("toy", "--steps", "10", "--out", Path.Combine(blocker, "out"));
        Assert.Equal(GsurgApp.UsageError, code);
        Assert.Contains("cannot write to output directory", error);
    }

    [Fact]
    public void HelpDescribesEveryCommandAndOption()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("toy", output);
        Assert.Contains("demo", output);
        var (toyCode, toyHelp, _) = Run("toy", "--help");
        Assert.Equal(0, toyCode);
        foreach (var option in new[] { "--landscape", "--methods", "--steps", "--lr", "--start", "--seed", "--out" })
        {
            Assert.Contains(option, toyHelp);
        }
    }

    [Fact]
    public void ToyWritesTableCsvsAndFigure()
    {
        var (code, output, error) = Run("toy", "--steps", "3000", "--methods", "sum,pcgrad", "--out", _directory);
        Assert.True(code == 0, error);
        Assert.Contains("PCGrad", output);
        AssertPng(Path.Combine(_directory, "figure1.png"));
        var summary = File.ReadAllLines(Path.Combine(_directory, "summary.csv"));
        Assert.Equal(3, summary.Length);
        Assert.StartsWith("sum,0.5,-3,3000,", summary[1]);
        Assert.StartsWith("pcgrad,0.5,-3,3000,", summary[2]);
        Assert.True(File.ReadAllLines(Path.Combine(_directory, "trajectories.csv")).Length > 100);
    }

    [Fact]
    public void ToyRunsLossWeightingsByName()
    {
        var (code, output, error) = Run("toy", "--steps", "200", "--methods", "uw,famo", "--epoch-steps", "50", "--out", _directory);
        Assert.True(code == 0, error);
        Assert.Contains("UW", output);
        Assert.Contains("FAMO", output);
        var summary = File.ReadAllLines(Path.Combine(_directory, "summary.csv"));
        Assert.Equal(3, summary.Length);
        Assert.StartsWith("uw,0.5,-3,200,", summary[1]);
        Assert.StartsWith("famo,0.5,-3,200,", summary[2]);
        AssertPng(Path.Combine(_directory, "figure1.png"));
    }

    [Fact]
    public void HelpListsBothKindsOfMethod()
    {
        foreach (var command in new[] { "toy", "demo", "train" })
        {
            var (code, help, _) = Run(command, "--help");
            Assert.Equal(0, code);
            var flat = string.Join(" ", help.Split((char[])['\n', '\r', ' '], StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("pcgrad", flat);
            Assert.Contains("loss weightings", flat);
            Assert.Contains("gradnorm", flat);
        }
    }

    [Fact]
    public void ToyAcceptsSeveralStartsOnTheCAGradLandscape()
    {
        var (code, _, error) = Run("toy", "--landscape", "cagrad", "--steps", "500", "--methods", "pcgrad", "--start=-8.5,7.5", "--start", "9,9", "--out", _directory);
        Assert.True(code == 0, error);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(_directory, "summary.csv")).Length);
        AssertPng(Path.Combine(_directory, "toy-cagrad.png"));
    }

    [Fact]
    public void DemoAtATinySizeWritesEveryPromisedFileAndIsDeterministic()
    {
        string[] Demo(string directory) => ["demo", "--steps", "40", "--seeds", "2", "--toy-steps", "2000", "--tasks", "3", "--seed", "5", "--out", directory];
        var first = Path.Combine(_directory, "first");
        var (code, output, error) = Run(Demo(first));
        Assert.True(code == 0, error);
        Assert.Contains("PCGrad", output);

        foreach (var file in new[] { "report.md", "toy/trajectories.csv", "toy/summary.csv", "synthetic/metrics.csv", "synthetic/summary.csv" })
        {
            Assert.True(new FileInfo(Path.Combine(first, file)).Length > 0, file);
        }
        foreach (var png in new[] { "toy/figure1.png", "synthetic/loss_curves.png", "synthetic/conflicts.png" })
        {
            AssertPng(Path.Combine(first, png));
        }
        var runs = Directory.GetDirectories(Path.Combine(first, "synthetic", "tensorboard")).Select(d => Path.GetFileName(d)!).Order().ToArray();
        Assert.Equal(["mean-seed5", "mean-seed6", "pcgrad-seed5", "pcgrad-seed6"], runs);
        Assert.All(runs, run => Assert.NotEmpty(Directory.GetFiles(Path.Combine(first, "synthetic", "tensorboard", run), "events.out.tfevents.*")));
        var report = File.ReadAllText(Path.Combine(first, "report.md"));
        Assert.Contains("![toy](toy/figure1.png)", report);
        Assert.Contains("| PCGrad |", report);
        // 40 steps, evaluated every 50 steps or at the end: one row per run, 4 runs.
        Assert.Equal(5, File.ReadAllLines(Path.Combine(first, "synthetic", "metrics.csv")).Length);

        var second = Path.Combine(_directory, "second");
        Assert.Equal(0, Run(Demo(second)).Code);
        Assert.Equal(File.ReadAllText(Path.Combine(first, "synthetic", "metrics.csv")), File.ReadAllText(Path.Combine(second, "synthetic", "metrics.csv")));
        Assert.Equal(File.ReadAllText(Path.Combine(first, "toy", "trajectories.csv")), File.ReadAllText(Path.Combine(second, "toy", "trajectories.csv")));
    }

    private static void AssertPng(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000, $"{path} is {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
    }

    [Fact]
    public void TrainWritesEveryArtefactResumesAndEvaluates()
    {
        var data = Path.Combine(_directory, "data");
        GradientSurgery.Tests.Data.IdxTestFiles.WriteSource(data, "mnist", trainCount: 40, testCount: 20, seed: 1);
        var run = Path.Combine(_directory, "run");
        string[] Train(params string[] extra) =>
            ["train", "--benchmark", "multimnist", "--method", "pcgrad", "--data", data, "--epochs", "1", "--batch-size", "16",
             "--cache", Path.Combine(_directory, "cache"), "--out", run, .. extra];

        var (stopped, stoppedOutput, stoppedError) = Run(Train("--stop-after-steps", "2"));
        Assert.True(stopped == 0, stoppedError);
        Assert.Contains("Stopped", stoppedOutput);
        Assert.True(File.Exists(Path.Combine(run, "checkpoint.bin")));
        Assert.False(File.Exists(Path.Combine(run, "model.bin")));

        var (resumed, resumedOutput, resumedError) = Run(Train("--resume"));
        Assert.True(resumed == 0, resumedError);
        Assert.Contains("Resuming at epoch 1, batch 2", resumedOutput);
        foreach (var file in new[] { "run.json", "model.bin", "checkpoint.bin", "metrics.csv" })
        {
            Assert.True(File.Exists(Path.Combine(run, file)), file);
        }
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(run, "tensorboard"), "events.out.tfevents.*"));
        var metrics = File.ReadAllLines(Path.Combine(run, "metrics.csv"));
        Assert.StartsWith("epoch,train_loss/task0,", metrics[0]);
        Assert.Equal(2, metrics.Length);

        var (evaluated, evaluation, evalError) = Run("eval", "--run", run, "--cache", Path.Combine(_directory, "cache"));
        Assert.True(evaluated == 0, evalError);
        Assert.Contains("left", evaluation);
        Assert.Contains("right", evaluation);

        var (summarized, summary, summaryError) = Run("summarize", run, "--markdown", Path.Combine(_directory, "summary.md"), "--plot", Path.Combine(_directory, "accuracy.png"));
        Assert.True(summarized == 0, summaryError);
        Assert.Contains("pcgrad", summary);
        Assert.Contains("| multimnist | hps | pcgrad | 1 | 1 |", File.ReadAllText(Path.Combine(_directory, "summary.md")));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(Path.Combine(_directory, "accuracy.png")).Take(4));

        // Both kinds in one call: a table each, both in the Markdown, both in the figure.
        var rl = TinyRlRun("mtsac", seed: 1);
        var (mixed, mixedOutput, mixedError) = Run("summarize", run, rl, "--markdown", Path.Combine(_directory, "mixed.md"), "--plot", Path.Combine(_directory, "mixed.png"));
        Assert.True(mixed == 0, mixedError);
        Assert.Contains("training runs", mixedOutput);
        Assert.Contains("reinforcement-learning runs", mixedOutput);
        var mixedMarkdown = File.ReadAllText(Path.Combine(_directory, "mixed.md"));
        Assert.Contains("| multimnist | hps | pcgrad | 1 | 1 |", mixedMarkdown);
        Assert.Contains("| pointmass | mtsac | 1 | 40 |", mixedMarkdown);
        AssertPng(Path.Combine(_directory, "mixed.png"));

        // A stop request (Ctrl+C, or SIGTERM through Program.cs) ends training after the current step, with a checkpoint.
        var stoppedRun = Path.Combine(_directory, "stopped");
        using (var stop = new CancellationTokenSource())
        {
            stop.Cancel();
            var (code, output, stopError) = Run(stop.Token, [.. Train()[..^1], stoppedRun]);
            Assert.True(code == 0, stopError);
            Assert.Contains("Stopped after 1 steps", output);
            Assert.True(File.Exists(Path.Combine(stoppedRun, "checkpoint.bin")));
        }

        var (missing, _, missingError) = Run("train", "--data", Path.Combine(_directory, "nowhere"), "--epochs", "1", "--out", Path.Combine(_directory, "other"));
        Assert.Equal(GsurgApp.UsageError, missing);
        Assert.Contains("gsurg data download", missingError);
    }

    [Fact]
    public void RlTrainWritesItsArtefactsResumesAndEvalReadsTheAgent()
    {
        var run = Path.Combine(_directory, "rl");
        string[] Train(int steps) =>
            ["rl", "train", "--suite", "pointmass", "--method", "pcgrad", "--steps", $"{steps}", "--warmup", "10", "--eval-every", "20",
                "--eval-episodes", "1", "--hidden", "8,8", "--batch-per-task", "4", "--buffer", "200", "--seed", "5", "--out", run];
        var (code, output, error) = Run(Train(40));
        Assert.True(code == 0, error);
        Assert.Contains("mean success", output);
        AssertPng(Path.Combine(run, "success.png"));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(run, "metrics.csv")).Length);
        var (resumed, _, resumeError) = Run([.. Train(60), "--resume"]);
        Assert.True(resumed == 0, resumeError);
        Assert.StartsWith("pcgrad,5,60,", File.ReadAllLines(Path.Combine(run, "metrics.csv"))[^1], StringComparison.Ordinal);

        // A stop request ends the run after the current step; the checkpoint stays at the last evaluation.
        using (var stop = new CancellationTokenSource())
        {
            stop.Cancel();
            var (stopped, stopOutput, stopError) = Run(stop.Token, [.. Train(100), "--resume"]);
            Assert.True(stopped == 0, stopError);
            Assert.Contains("the last checkpoint is at step 60", stopOutput);
            Assert.Equal(60, RlTrainer.ReadHistory(run).History[^1].Step);
        }

        var (evaluated, evaluation, evalError) = Run("rl", "eval", "--run", run, "--episodes", "2");
        Assert.True(evaluated == 0, evalError);
        Assert.Contains("goal-3", evaluation);
        Assert.Equal(["task,success_rate,mean_return", "goal-0", "goal-1", "goal-2", "goal-3"],
            File.ReadAllLines(Path.Combine(run, "eval.csv")).Select((l, k) => k == 0 ? l : l.Split(',')[0]));

        // A corrupt checkpoint without its predecessor: one line naming the file, exit code 2, the file left as it is.
        var checkpoint = Path.Combine(run, RlTrainer.CheckpointName);
        File.Delete(checkpoint + ".prev");
        var bytes = File.ReadAllBytes(checkpoint);
        bytes[^10] ^= 1;
        File.WriteAllBytes(checkpoint, bytes);
        foreach (var command in new[] { new[] { "rl", "eval", "--run", run }, [.. Train(80), "--resume"] })
        {
            var (failed, _, failure) = Run(command);
            Assert.Equal(2, failed);
            var line = Assert.Single(failure.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"{checkpoint} is corrupt", line);
            Assert.Equal(bytes, File.ReadAllBytes(checkpoint));
        }
    }

    /// <summary>A real run of 'gsurg rl train' on pointmass, small enough to take well under a second.</summary>
    private string TinyRlRun(string method, long seed)
    {
        var directory = Path.Combine(_directory, $"rl-{method}-seed{seed}");
        RlTrainer.Train(new RlSettings("pointmass", method, Seed: seed, Steps: 40, WarmupSteps: 10, BufferPerTask: 200, EvaluateEvery: 20, EvaluationEpisodes: 1,
            new SacSettings([8, 8], BatchPerTask: 4)), directory, resume: false);
        return directory;
    }

    [Fact]
    public void SummarizeReadsAnRlRunFromItsMetricsWhenTheCheckpointIsGone()
    {
        var full = TinyRlRun("pcgrad", seed: 3);
        var metricsOnly = Path.Combine(_directory, "metrics-only");
        Directory.CreateDirectory(metricsOnly);
        File.Copy(Path.Combine(full, "metrics.csv"), Path.Combine(metricsOnly, "metrics.csv"));
        string Row(string run)
        {
            var markdown = Path.Combine(_directory, $"{Path.GetFileName(run)}.md");
            var (code, _, error) = Run("summarize", run, "--markdown", markdown);
            Assert.True(code == 0, error);
            return File.ReadAllLines(markdown)[2];
        }
        var fromCheckpoint = Row(full);
        Assert.StartsWith("| pointmass | pcgrad | 1 | 40 |", fromCheckpoint, StringComparison.Ordinal);
        Assert.Equal(fromCheckpoint, Row(metricsOnly));

        File.WriteAllText(Path.Combine(metricsOnly, "metrics.csv"), File.ReadAllText(Path.Combine(full, "metrics.csv")).Replace("goal-3", "goal-9", StringComparison.Ordinal));
        var (bad, _, badError) = Run("summarize", metricsOnly);
        Assert.Equal(2, bad);
        Assert.Contains("its columns are not those of any suite's run", badError);
    }

    [Fact]
    public void SummarizeGroupsRlSeedsAndAgreesWithTheirHistories()
    {
        string[] mtsac = [TinyRlRun("mtsac", seed: 1), TinyRlRun("mtsac", seed: 2)];
        string[] pcgrad = [TinyRlRun("pcgrad", seed: 1)];
        var markdown = Path.Combine(_directory, "rl.md");
        var png = Path.Combine(_directory, "rl.png");
        var (code, output, error) = Run(["summarize", .. mtsac, .. pcgrad, "--markdown", markdown, "--plot", png]);
        Assert.True(code == 0, error);
        Assert.Contains("reinforcement-learning runs", output);
        Assert.DoesNotContain("training runs", output.Replace("reinforcement-learning runs", "", StringComparison.Ordinal));
        AssertPng(png);

        // Every cell again, straight from the checkpoints: mean and sample std over seeds.
        var taskNames = Suite.Find("pointmass").TaskNames;
        var columns = RlTrainer.Columns(taskNames).ToList();
        double Value(RlRecord record, string column) => record.Values[columns.IndexOf(column)];
        string MeanStd(string[] runs, Func<IReadOnlyList<RlRecord>, double> of)
        {
            var values = runs.Select(r => of(RlTrainer.ReadHistory(r).History)).ToArray();
            var mean = values.Average();
            var std = values.Length == 1 ? 0 : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
            return FormattableString.Invariant($"{mean:F2} ± {std:F2}");
        }
        string Row(string method, string[] runs) => string.Join(" | ",
        [
            "| pointmass", method, $"{runs.Length}", "40",
            MeanStd(runs, h => 100 * Value(h[^1], "mean_success")),
            MeanStd(runs, h => Value(h[^1], "mean_return")),
            MeanStd(runs, h => 100 * h.Max(r => Value(r, "mean_success"))),
            MeanStd(runs, h => 1000 * Value(h[^1], "seconds") / 40) + " |",
        ]);
        var lines = File.ReadAllLines(markdown);
        Assert.Equal("| suite | method | seeds | steps | final mean success (%) | final mean return | best mean success (%) | time per 1000 steps (s) |", lines[0]);
        Assert.Equal(Row("mtsac", mtsac), lines[2]);
        Assert.Equal(Row("pcgrad", pcgrad), lines[3]);
        // Two seeds of a random-ish policy do not return the same: the spread is really computed over seeds.
        Assert.DoesNotContain("± 0.00", lines[2].Split(" | ")[5]);

        Assert.Contains("| suite | task | mtsac | pcgrad |", lines);
        foreach (var task in taskNames)
        {
            string Mean(string[] runs) => (100 * runs.Average(r => Value(RlTrainer.ReadHistory(r).History[^1], $"success/{task}"))).ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains($"| pointmass | {task} | {Mean(mtsac)} | {Mean(pcgrad)} |", lines);
        }

        // A directory that is no run, or none at all: a usage error naming it, on one line.
        foreach (var notARun in new[] { Directory.CreateDirectory(Path.Combine(_directory, "empty")).FullName, Path.Combine(_directory, "nowhere") })
        {
            var (failed, _, failure) = Run("summarize", mtsac[0], notARun);
            Assert.Equal(GsurgApp.UsageError, failed);
            var errorLines = failure.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(errorLines);
            Assert.Contains(notARun, errorLines[0]);
        }
    }
}
