using System.CommandLine;
using System.Globalization;
using GradientSurgery.Data;
using GradientSurgery.Experiments.Supervised;
using GradientSurgery.Models;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary><c>gsurg train</c>: MultiMNIST, MultiFashion or Multi-(Fashion+MNIST) with MultiLeNet and any aggregator or loss weighting.</summary>
internal static class TrainCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var benchmark = Benchmark();
        var method = new Option<string>("--method")
        {
            Description = $"Method, 'name[:key=value,...]': {CommonOptions.MethodList}. 'ew' is equal weighting (= mean); 'gsurg methods' lists every method's arguments. Loss weightings train on one backward of their objective and record no conflict statistics.",
            DefaultValueFactory = _ => "pcgrad",
        };
        var data = DataDirectory();
        var epochs = CommonOptions.PositiveInt("--epochs", "Epochs (default 10).");
        var batchSize = CommonOptions.PositiveInt("--batch-size", "Examples per step (default 256).");
        var learningRate = CommonOptions.PositiveDouble("--lr", "Adam's learning rate.", 5e-4);
        var seed = CommonOptions.Seed();
        var output = CommonOptions.Out("runs/<benchmark>-<method>-seed<seed>");
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last checkpoint (same settings; --epochs may grow)." };
        var cache = Cache();
        var limit = CommonOptions.PositiveInt("--limit", "Use only the first N training examples (quick runs).");
        var stopAfter = CommonOptions.PositiveInt("--stop-after-steps", "Stop after this many steps in total, writing a checkpoint for --resume.");
        var command = new Command("train", "Train MultiLeNet on a two-task benchmark with an aggregator or a loss weighting; per-epoch loss, accuracy and conflict diagnostics to the console, metrics.csv and TensorBoard; checkpoints every epoch (Ctrl+C or SIGTERM stops after the current step with a checkpoint; a step whose gradients are not finite stops the run with exit code 2 and a checkpoint of the state before its batch, see docs/troubleshooting.md).")
        {
            benchmark, method, data, epochs, batchSize, learningRate, seed, output, resume, cache, limit, stopAfter,
        };
        command.SetAction((parse, cancellation) =>
        {
            var variant = MultiMnistVariants.Parse(parse.GetValue(benchmark)!);
            var runSeed = parse.GetValue(seed);
            var methodName = CommonOptions.Methods(parse.GetValue(method)!, [], runSeed).Single();
            var dataDirectory = Path.GetFullPath(parse.GetValue(data)!);
            var directory = CommonOptions.OutputDirectory(parse.GetValue(output) ?? Path.Combine("runs", $"{variant.CliName()}-{methodName.Replace(':', '_')}-seed{runSeed}"), "train");
            var cacheDirectory = parse.GetValue(cache) ?? DefaultCache();
            var (train, test) = LoadData(console, variant, dataDirectory, runSeed, cacheDirectory, parse.GetValue(limit));
            using (train)
            using (test)
            {
                var settings = new TrainingSettings(variant.CliName(), methodName, parse.GetValue(epochs) ?? 10, parse.GetValue(batchSize) ?? 256,
                    parse.GetValue(learningRate), runSeed, train.Count, dataDirectory);
                var outcome = TrainingProgress.Run(console, settings, directory, observer =>
                    new MultiTaskTrainer<MultiLeNet>(() => new MultiLeNet(2)).Train(
                        settings, train, test, directory, parse.GetValue(resume), observer, parse.GetValue(stopAfter), cancellation));
                console.MarkupLineInterpolated(outcome.Completed
                    ? (FormattableString)$"[green]Done[/]: {outcome.Steps:N0} steps; run in {directory} (model.bin, metrics.csv, tensorboard/, checkpoint.bin)."
                    : $"[yellow]Stopped[/] after {outcome.Steps:N0} steps; continue with: gsurg train ... --out {directory} --resume");
            }
            return Task.FromResult(GsurgApp.Success);
        });
        return command;
    }

    internal static Option<string> Benchmark() => new Option<string>("--benchmark")
    {
        Description = $"Benchmark: {string.Join(", ", MultiMnistVariants.CliNames)}.",
        DefaultValueFactory = _ => "multimnist",
    }.AcceptOnlyFromAmong([.. MultiMnistVariants.CliNames]);

    internal static Option<string> DataDirectory() => new("--data")
    {
        Description = "Directory holding mnist/ and fashion-mnist/ with the original .gz files (get them with 'gsurg data download').",
        DefaultValueFactory = _ => "data",
    };

    internal static Option<string?> Cache() => new("--cache")
    {
        Description = "Where composed splits are cached (default: ~/.cache/gsurg).",
    };

    internal static string DefaultCache() =>
        Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "gsurg");

    internal static (ClassificationData Train, ClassificationData Test) LoadData(
        IAnsiConsole console, MultiMnistVariant variant, string dataDirectory, long seed, string cacheDirectory, int? limit)
    {
        try
        {
            ClassificationData? train = null, test = null;
            console.Status().Start($"Composing {variant.CliName()} (cached in {cacheDirectory})…", _ =>
            {
                train = MultiMnistBenchmark.Load(variant, dataDirectory, DatasetSplit.Train, seed, cacheDirectory, limit);
                test = MultiMnistBenchmark.Load(variant, dataDirectory, DatasetSplit.Test, seed, cacheDirectory);
            });
            return (train!, test!);
        }
        catch (FileNotFoundException missing)
        {
            throw new UsageException(missing.Message, missing);
        }
    }
}

/// <summary>Draws the training progress: one bar per epoch and a line of metrics when an epoch ends.</summary>
internal sealed class TrainingProgress(IAnsiConsole console, ProgressContext context, int epochs) : ITrainingObserver
{
    private ProgressTask? _bar;
    private int _batches;

    public static TrainingOutcome Run(IAnsiConsole console, TrainingSettings settings, string directory, Func<ITrainingObserver, TrainingOutcome> train)
    {
        console.MarkupLineInterpolated($"Training [bold]{settings.Method}[/] on [bold]{settings.Benchmark}[/] ({settings.TrainExamples:N0} examples, batch {settings.BatchSize}, Adam lr {settings.LearningRate.ToString(CultureInfo.InvariantCulture)}, seed {settings.Seed}) → {directory}");
        TrainingOutcome? outcome = null;
        console.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context => outcome = train(new TrainingProgress(console, context, settings.Epochs)));
        return outcome!;
    }

    public void Started(int epoch, int batch, int batchesPerEpoch, bool resumed)
    {
        _batches = batchesPerEpoch;
        if (resumed)
        {
            console.MarkupLineInterpolated($"Resuming at epoch {epoch + 1}, batch {batch}.");
        }
    }

    public void Stepped(int epoch, int batch)
    {
        if (_bar is null || _bar.Description != Description(epoch))
        {
            _bar?.StopTask();
            _bar = context.AddTask(Description(epoch), maxValue: _batches);
        }
        _bar.Value = batch;
    }

    public void EpochFinished(EpochMetrics m)
    {
        var tasks = Enumerable.Range(0, m.TestAccuracy.Length);
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {m.Epoch}: test acc {string.Join(" / ", tasks.Select(t => $"{100 * m.TestAccuracy[t]:F2}"))} %, test loss {string.Join(" / ", tasks.Select(t => $"{m.TestLoss[t]:F4}"))}, train loss {string.Join(" / ", tasks.Select(t => $"{m.TrainLoss[t]:F4}"))}, {Conflicts(m)}, {m.Seconds:F1} s"));
    }

    // NaN means not measured: a loss weighting's steps form no per-task gradients.
    private static string Conflicts(EpochMetrics m) => double.IsNaN(m.MeanCosine)
        ? "conflicts not measured"
        : string.Create(CultureInfo.InvariantCulture, $"conflicts {m.ConflictFraction:P0}, cos {m.MeanCosine:F3}");

    public void Warning(string message) => console.MarkupLineInterpolated($"[yellow]warning:[/] {message}");

    private string Description(int epoch) => $"epoch {epoch + 1}/{epochs}";
}
