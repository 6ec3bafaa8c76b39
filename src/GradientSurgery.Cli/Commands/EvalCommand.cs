using System.CommandLine;
using System.Globalization;
using GradientSurgery.Data;
using GradientSurgery.Experiments.Supervised;
using GradientSurgery.Models;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary><c>gsurg eval</c>: re-evaluates the saved model of a finished training run on its test split.</summary>
internal static class EvalCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var run = new Option<string>("--run") { Description = "The run directory written by 'gsurg train' (holds run.json and model.bin).", Required = true };
        var data = new Option<string?>("--data") { Description = "Data directory (default: the one recorded in run.json)." };
        var cache = TrainCommand.Cache();
        var command = new Command("eval", "Re-evaluate a trained model (model.bin of a run) on the test split: loss and accuracy per task (nyuv2: loss per task, mIoU, pixel accuracy, depth and normal errors).")
        {
            run, data, cache,
        };
        command.SetAction(parse =>
        {
            var directory = Path.GetFullPath(parse.GetValue(run)!);
            TrainingSettings settings;
            try
            {
                settings = MultiTaskTrainer<MultiTaskModule>.ReadSettings(directory);
            }
            catch (FileNotFoundException missing)
            {
                throw new UsageException(missing.Message, missing);
            }
            var modelPath = MultiTaskTrainer<MultiTaskModule>.ModelPath(directory);
            if (!File.Exists(modelPath))
            {
                throw new UsageException($"{modelPath} does not exist: the run has not finished (continue it with 'gsurg train --out {directory} --resume').");
            }
            var dataDirectory = parse.GetValue(data) ?? settings.DataDirectory ?? "data";
            var (test, input, classes) = LoadTest(console, settings, dataDirectory, parse.GetValue(cache) ?? TrainCommand.DefaultCache());
            using var testData = test;
            using var model = TrainCommand.CreateNetwork(settings.Benchmark, settings.Architecture, test.TaskCount, classes, input, settings.Filters);
            try
            {
                model.load(modelPath);
            }
            catch (Exception unreadable) when (unreadable is not OutOfMemoryException)
            {
                throw new InvalidDataException($"{modelPath} is not a {settings.Architecture} model this build can read: {unreadable.Message}", unreadable);
            }
            var evaluation = MultiTaskTrainer<MultiTaskModule>.Evaluate(model, test, SupervisedBenchmarks.Tasks(settings.Benchmark, test.TaskCount));
            var title = $"{settings.Benchmark}, {settings.Method}, seed {settings.Seed}: test split ({test.Count:N0} examples)";
            console.Write(evaluation.Metrics is { } metrics ? DenseTable(title, evaluation.Loss, metrics) : ClassificationTable(title, evaluation.Loss, evaluation.Accuracy));
            return GsurgApp.Success;
        });
        return command;
    }

    private static Table ClassificationTable(string title, double[] loss, double[] accuracy)
    {
        var table = new Table().Title(title).AddColumns("task", "accuracy", "loss");
        for (var t = 0; t < loss.Length; t++)
        {
            table.AddRow(TaskName(t, loss.Length), (100 * accuracy[t]).ToString("F2", CultureInfo.InvariantCulture) + " %", loss[t].ToString("F4", CultureInfo.InvariantCulture));
        }
        return table;
    }

    /// <summary>NYUv2: every task's test loss, then every metric of metrics.csv by its column name.</summary>
    private static Table DenseTable(string title, double[] loss, IReadOnlyDictionary<string, double> metrics)
    {
        var table = new Table().Title(title).AddColumns("metric", "value");
        for (var t = 0; t < loss.Length; t++)
        {
            table.AddRow($"test_loss/{Nyuv2Tasks.TaskNames[t]}", loss[t].ToString("F4", CultureInfo.InvariantCulture));
        }
        foreach (var name in Nyuv2Tasks.MetricNames)
        {
            table.AddRow(name, metrics.TryGetValue(name, out var value) ? value.ToString("F4", CultureInfo.InvariantCulture) : "");
        }
        return table;
    }

    // MultiMNIST's two tasks are the left and the right digit; other benchmarks number their tasks.
    private static string TaskName(int task, int tasks) => tasks == 2 ? (task == 0 ? "left" : "right") : $"task {task}";

    private static (IMultiTaskData Data, ImageShape Input, int Classes) LoadTest(IAnsiConsole console, TrainingSettings settings, string dataDirectory, string cacheDirectory)
    {
        try
        {
            (IMultiTaskData, ImageShape, int)? loaded = null;
            console.Status().Start($"Loading {settings.Benchmark}'s test split…", _ =>
                loaded = SupervisedBenchmarks.LoadSplit(settings.Benchmark, dataDirectory, DatasetSplit.Test, settings.Seed, cacheDirectory, null));
            return loaded!.Value;
        }
        catch (FileNotFoundException missing)
        {
            throw new UsageException(missing.Message, missing);
        }
    }
}
