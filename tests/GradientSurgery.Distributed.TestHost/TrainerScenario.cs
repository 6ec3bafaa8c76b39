using System.Diagnostics;
using GradientSurgery.Experiments.Supervised;
using GradientSurgery.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Distributed.TestHost;

/// <summary>
/// The trainer-level scenario of data-parallel training: <see cref="MultiTaskTrainer{TModel}"/> with a float64
/// MultiLeNet (dropout active) on small random data, run by the test host as a world of one or on 2 ranks.
/// </summary>
public static class TrainerScenario
{
    /// <summary>56 examples in batches of 16: three full batches and a last one of 8, each split in two.</summary>
    public static TrainingSettings Settings(string method, int epochs, long seed) =>
        new("random", method, epochs, BatchSize: 16, LearningRate: 1e-3, Seed: seed, TrainExamples: 56);

    /// <summary>Random float64 images and labels, drawn from a generator of their own.</summary>
    public static ClassificationData Data(int count, ulong seed)
    {
        var generator = new Generator(seed);
        return new ClassificationData(
            rand([count, 1, 28, 28], ScalarType.Float64, generator: generator),
            [randint(0, 10, count, generator: generator), randint(0, 10, count, generator: generator)]);
    }

    /// <summary>MultiLeNet converted to float64 after its float32 initialisation.</summary>
    public static MultiLeNet Model()
    {
        var model = new MultiLeNet();
        model.to(ScalarType.Float64);
        return model;
    }

    /// <summary>The final weights of a finished run, flattened.</summary>
    public static double[] Weights(string runDirectory)
    {
        using var model = Model();
        model.load(MultiTaskTrainer<MultiLeNet>.ModelPath(runDirectory));
        return [.. model.parameters().SelectMany(p => p.data<double>().ToArray())];
    }

    /// <summary>
    /// Trains (or resumes) the run in <paramref name="output"/> on this world; rank 1 may use another seed (the mismatch
    /// test), and every step may be slowed down (the kill test). Writes this process's id to pid.rank{R}.
    /// </summary>
    public static string Run(MpiCommunicator world, string method, string output, int epochs, bool resume, long seed, TimeSpan delay)
    {
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, $"pid.rank{world.Rank}"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var train = Data(56, 1);
        using var test = Data(30, 2);
        var outcome = new MultiTaskTrainer<MultiLeNet>(Model).Train(
            Settings(method, epochs, seed), train, test, output, resume, new Delay(delay), world: world.Size > 1 ? world : null);
        return $"{outcome.Steps} steps, completed {outcome.Completed}";
    }

    private sealed class Delay(TimeSpan delay) : ITrainingObserver
    {
        public void Started(int epoch, int batch, int batchesPerEpoch, bool resumed)
        {
        }

        public void Stepped(int epoch, int batch) => Thread.Sleep(delay);

        public void EpochFinished(EpochMetrics metrics)
        {
        }

        public void Warning(string message) => Debug.WriteLine(message);
    }
}
