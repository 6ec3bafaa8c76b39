using System.CommandLine;
using System.Globalization;
using GradientSurgery.Data;
using GradientSurgery.Distributed;
using GradientSurgery.Experiments.Supervised;
using GradientSurgery.Models;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary><c>gsurg train</c>: MultiMNIST, MultiFashion or Multi-(Fashion+MNIST) with any architecture and any aggregator or loss weighting.</summary>
internal static class TrainCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var benchmark = Benchmark();
        var architecture = new Option<string>("--arch")
        {
            Description = "Network: " + string.Join("; ", Architectures.Names.Select(a => $"'{a}' {Architectures.Describe(a)}")) + ". Shared parameters take part in the surgery; a task's own parameters receive its gradient only.",
            DefaultValueFactory = _ => "hps",
        }.AcceptOnlyFromAmong([.. Architectures.Names]);
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
        var output = CommonOptions.Out("runs/<benchmark>-<method>-seed<seed>, with -<arch> after the benchmark for an --arch other than hps");
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last checkpoint (same settings; --epochs may grow)." };
        var cache = Cache();
        var limit = CommonOptions.PositiveInt("--limit", "Use only the first N training examples (quick runs).");
        var filters = new Option<string?>("--filters")
        {
            Description = $"nyuv2 only: SegNet channels per level, comma-separated (default {string.Join(",", SegNetBackbone.DefaultFilters)}; MTAN's are {string.Join(",", SegNetBackbone.PaperFilters)}); image sides must be multiples of 2^levels.",
        };
        var stopAfter = CommonOptions.PositiveInt("--stop-after-steps", "Stop after this many steps in total, writing a checkpoint for --resume.");
        var ranks = CommonOptions.PositiveInt("--ranks", $"Train data-parallel on N processes of this machine: starts 'mpirun -np N' with this command (needs {MpiLibrary.DebianPackage}). The global batch is still --batch-size, split evenly; the result is one process's up to rounding. Needs a network with a shared representation (hps, mmoe, mtan). 'mpirun -np N gsurg train ...' does the same across machines (docs/distributed.md).");
        var command = new Command("train", "Train a multi-task network (--arch) on a supervised benchmark with an aggregator or a loss weighting; per-epoch loss, accuracy and conflict diagnostics to the console, metrics.csv and TensorBoard; checkpoints every epoch (Ctrl+C or SIGTERM stops after the current step with a checkpoint; a step whose gradients are not finite stops the run with exit code 2 and a checkpoint of the state before its batch, see docs/troubleshooting.md).")
        {
            benchmark, architecture, method, data, epochs, batchSize, learningRate, seed, output, resume, cache, limit, stopAfter, ranks, filters,
        };
        command.SetAction((parse, cancellation) =>
        {
            if (parse.GetValue(ranks) is > 1 and var count)
            {
                if (MpiLaunch.IsRank)
                {
                    throw new UsageException("--ranks starts mpirun itself; under mpirun, leave it out (mpirun's -np sets the number of ranks).");
                }
                return Task.FromResult(MpiLaunch.Run(count, [.. WithoutOption(parse, ranks.Name)]));
            }
            int Train(IAnsiConsole shown, MpiCommunicator? world)
            {
                var benchmarkName = parse.GetValue(benchmark)!;
                var runSeed = parse.GetValue(seed);
                var methodName = CommonOptions.Methods(parse.GetValue(method)!, [], runSeed).Single();
                var dataDirectory = Path.GetFullPath(parse.GetValue(data)!);
                var arch = parse.GetValue(architecture)!;
                var archPart = arch == "hps" ? "" : arch + "-";
                var directory = CommonOptions.OutputDirectory(parse.GetValue(output) ?? Path.Combine("runs", $"{benchmarkName}-{archPart}{methodName.Replace(':', '_')}-seed{runSeed}"), "train");
                var cacheDirectory = parse.GetValue(cache) ?? DefaultCache();
                var widths = parse.GetValue(filters);
                if (widths is not null)
                {
                    // Checked before the data is loaded, so that a mistyped list fails at once.
                    _ = benchmarkName == SupervisedBenchmarks.Nyuv2
                        ? ParseFilters(widths)
                        : throw new UsageException($"--filters sets the widths of {SupervisedBenchmarks.Nyuv2}'s dense networks; {benchmarkName} has none.");
                }
                using var loaded = LoadData(shown, benchmarkName, dataDirectory, runSeed, cacheDirectory, parse.GetValue(limit));
                var (train, test) = (loaded.Train, loaded.Test);
                var settings = new TrainingSettings(benchmarkName, methodName, parse.GetValue(epochs) ?? 10, parse.GetValue(batchSize) ?? 256,
                    parse.GetValue(learningRate), runSeed, train.Count, dataDirectory, arch, widths);
                MultiTaskModule Network() => CreateNetwork(benchmarkName, arch, train.TaskCount, loaded.Classes, loaded.Input, widths);
                shown.MarkupLine(ParameterSummary(arch, Network, train.Inputs.shape));
                var outcome = TrainingProgress.Run(shown, settings, directory, world?.Size ?? 1, observer =>
                    new MultiTaskTrainer<MultiTaskModule>(Network, SupervisedBenchmarks.Tasks(benchmarkName, train.TaskCount)).Train(
                        settings, train, test, directory, parse.GetValue(resume), observer, parse.GetValue(stopAfter), cancellation, world));
                shown.MarkupLineInterpolated(outcome.Completed
                    ? (FormattableString)$"[green]Done[/]: {outcome.Steps:N0} steps; run in {directory} (model.bin, metrics.csv, tensorboard/, checkpoint.bin)."
                    : $"[yellow]Stopped[/] after {outcome.Steps:N0} steps; continue with: gsurg train ... --out {directory} --resume");
                return GsurgApp.Success;
            }
            if (!MpiLaunch.IsRank)
            {
                return Task.FromResult(Train(console, null));
            }
            using var world = MpiCommunicator.Initialize();
            TorchSharp.torch.set_num_threads(MpiLaunch.ThreadsPerRank());
            if (world.Size == 1)
            {
                return Task.FromResult(Train(console, null));
            }
            try
            {
                // Rank 0 speaks for the job; the other ranks' consoles go nowhere.
                return Task.FromResult(Train(world.Rank == 0 ? console : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) }), world));
            }
            catch (Exception failure)
            {
                // A rank that fails alone would leave the others waiting in a collective: end the whole job. The
                // failures that every rank meets alike (bad settings, a non-finite step) are reported by rank 0 only.
                if (world.Rank == 0 || failure is not (ArgumentException or ArithmeticException or InvalidOperationException or NotSupportedException))
                {
                    Console.Error.WriteLine($"gsurg (rank {world.Rank} of {world.Size}): {failure.Message}");
                }
                world.Abort(GsurgApp.RunFailure);
                throw new System.Diagnostics.UnreachableException();
            }
        });
        return command;
    }

    /// <summary>A benchmark's network, with an architecture that has no variant for it refused as a usage error.</summary>
    internal static MultiTaskModule CreateNetwork(string benchmark, string arch, int tasks, int classes, ImageShape input, string? filters)
    {
        try
        {
            return SupervisedBenchmarks.CreateNetwork(benchmark, arch, tasks, classes, input, filters);
        }
        catch (ArgumentException wrong) when (benchmark == SupervisedBenchmarks.Nyuv2)
        {
            throw new UsageException(wrong.Message, wrong);
        }
    }

    private static int[]? ParseFilters(string widths)
    {
        try
        {
            return DenseArchitectures.ParseFilters(widths);
        }
        catch (ArgumentException wrong)
        {
            throw new UsageException(wrong.Message, wrong);
        }
    }

    /// <summary>How many parameters the surgery sees as shared and how many each task owns (built once; the trainer seeds its own).</summary>
    internal static string ParameterSummary(string arch, Func<MultiTaskModule> create, long[] inputShape)
    {
        using var probe = create();
        var shared = probe.SharedParameters.Sum(p => p.numel());
        var own = probe.TaskParameters.Select(list => list.Sum(p => p.numel())).Distinct().ToArray();
        var perTask = own.Length == 1 ? $"{own[0]:N0}" : string.Join(" / ", own.Select(n => n.ToString("N0", CultureInfo.InvariantCulture)));
        return string.Create(CultureInfo.InvariantCulture, $"{arch} on {string.Join("×", inputShape.Skip(1))} images: {shared:N0} shared parameters (the surgery's), {perTask} of each task's own.");
    }

    /// <summary>The command line as parsed, without an option and its value (to start the same command under mpirun).</summary>
    private static IEnumerable<string> WithoutOption(ParseResult parse, string name)
    {
        var tokens = parse.Tokens;
        for (var k = 0; k < tokens.Count; k++)
        {
            if (tokens[k].Value == name)
            {
                k++;
                continue;
            }
            yield return tokens[k].Value;
        }
    }

    internal static Option<string> Benchmark() => new Option<string>("--benchmark")
    {
        Description = $"Benchmark: {string.Join(", ", SupervisedBenchmarks.Names)} (cifar100: 20 five-way tasks, one per coarse class; celeba: 40 binary attributes; nyuv2: MTAN's segmentation, depth and surface normals, with --arch hps or mtan).",
        DefaultValueFactory = _ => "multimnist",
    }.AcceptOnlyFromAmong([.. SupervisedBenchmarks.Names]);

    internal static Option<string> DataDirectory() => new("--data")
    {
        Description = "Data directory: mnist/ and fashion-mnist/ with the original .gz files, cifar100/, celeba/, nyuv2/train and nyuv2/val (get them with 'gsurg data download').",
        DefaultValueFactory = _ => "data",
    };

    internal static Option<string?> Cache() => new("--cache")
    {
        Description = "Where composed splits are cached (default: ~/.cache/gsurg).",
    };

    internal static string DefaultCache() =>
        Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "gsurg");

    internal static BenchmarkData LoadData(IAnsiConsole console, string benchmark, string dataDirectory, long seed, string cacheDirectory, int? limit)
    {
        try
        {
            BenchmarkData? data = null;
            console.Status().Start($"Loading {benchmark} (composed MultiMNIST splits are cached in {cacheDirectory})…", _ =>
                data = SupervisedBenchmarks.Load(benchmark, dataDirectory, seed, cacheDirectory, limit));
            return data!;
        }
        catch (FileNotFoundException missing)
        {
            throw new UsageException(missing.Message, missing);
        }
        catch (NotSupportedException notYet)
        {
            throw new UsageException(notYet.Message, notYet);
        }
    }
}

/// <summary>Draws the training progress: one bar per epoch and a line of metrics when an epoch ends.</summary>
internal sealed class TrainingProgress(IAnsiConsole console, ProgressContext context, int epochs) : ITrainingObserver
{
    private ProgressTask? _bar;
    private int _batches;

    public static TrainingOutcome Run(IAnsiConsole console, TrainingSettings settings, string directory, int ranks, Func<ITrainingObserver, TrainingOutcome> train)
    {
        var across = ranks > 1 ? $" over {ranks} ranks" : "";
        console.MarkupLineInterpolated($"Training [bold]{settings.Architecture}[/] with [bold]{settings.Method}[/] on [bold]{settings.Benchmark}[/] ({settings.TrainExamples:N0} examples, batch {settings.BatchSize}{across}, Adam lr {settings.LearningRate.ToString(CultureInfo.InvariantCulture)}, seed {settings.Seed}) → {directory}");
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
        if (m.TestMetrics is { } dense)
        {
            // NYUv2 (Nyuv2Tasks): the headline metric of each task; metrics.csv has them all.
            double Metric(int k) => dense.TryGetValue(Nyuv2Tasks.MetricNames[k], out var value) ? value : double.NaN;
            console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {m.Epoch}: mIoU {100 * Metric(0):F2} %, pixel acc {100 * Metric(1):F2} %, depth abs {Metric(2):F4} rel {Metric(3):F4}, normal mean {Metric(4):F2}° median {Metric(5):F2}°, test loss {string.Join(" / ", m.TestLoss.Select(l => $"{l:F4}"))}, train loss {string.Join(" / ", m.TrainLoss.Select(l => $"{l:F4}"))}, {Conflicts(m)}, {m.Seconds:F1} s"));
            return;
        }
        var tasks = Enumerable.Range(0, m.TestAccuracy.Length);
        if (m.TestAccuracy.Length > ListedTasks)
        {
            // CIFAR-100's 20 tasks, CelebA's 40: the mean and the worst task; metrics.csv has every task.
            var worst = tasks.MinBy(t => m.TestAccuracy[t]);
            console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {m.Epoch}: test acc mean {100 * m.TestAccuracy.Average():F2} % (worst: task {worst}, {100 * m.TestAccuracy[worst]:F2} %), mean test loss {m.TestLoss.Average():F4}, mean train loss {m.TrainLoss.Average():F4}, {Conflicts(m)}, {m.Seconds:F1} s"));
            return;
        }
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {m.Epoch}: test acc {string.Join(" / ", tasks.Select(t => $"{100 * m.TestAccuracy[t]:F2}"))} %, test loss {string.Join(" / ", tasks.Select(t => $"{m.TestLoss[t]:F4}"))}, train loss {string.Join(" / ", tasks.Select(t => $"{m.TrainLoss[t]:F4}"))}, {Conflicts(m)}, {m.Seconds:F1} s"));
    }

    // Up to this many tasks, the epoch's line lists each one.
    private const int ListedTasks = 4;

    // NaN means not measured: a loss weighting's steps form no per-task gradients.
    private static string Conflicts(EpochMetrics m) => double.IsNaN(m.MeanCosine)
        ? "conflicts not measured"
        : string.Create(CultureInfo.InvariantCulture, $"conflicts {m.ConflictFraction:P0}, cos {m.MeanCosine:F3}");

    public void Warning(string message) => console.MarkupLineInterpolated($"[yellow]warning:[/] {message}");

    private string Description(int epoch) => $"epoch {epoch + 1}/{epochs}";
}
