using System.Diagnostics;
using System.Globalization;
using System.Text;
using GradientSurgery.Aggregation;
using GradientSurgery.Models;
using GradientSurgery.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Benchmarks;

/// <summary>
/// The price of <see cref="GemmConv2d"/> on MultiLeNet: libtorch's <c>Conv2d</c> (oneDNN) against GemmConv2d,
/// interleaved round by round in one process on the same batch and the same initial weights — the trunk's forward and
/// backward alone, and a whole PCGrad training step (features path, T = 2, Adam) as <c>gsurg train</c> takes it.
/// </summary>
internal static class ConvolutionBenchmark
{
    private const int Batch = 256;

    public static void Run(int steps, int warmup, int threads, string outputDirectory)
    {
        set_num_threads(threads);
        var modes = new (string Name, Func<long, long, long, nn.Module<Tensor, Tensor>> Convolution)[]
        {
            ("Conv2d (libtorch, oneDNN)", (i, o, k) => nn.Conv2d(i, o, k)),
            ("GemmConv2d", (i, o, k) => new GemmConv2d(i, o, k)),
        };
        var models = modes.Select(m =>
        {
            manual_seed(1);
            return new MultiLeNet(2, 10, m.Convolution);
        }).ToArray();
        var optimizers = models.Select(m => new AggregationStep(optim.Adam(m.parameters(), 5e-4), new PCGrad(seed: 1), m.SharedParameters)).ToArray();
        var generator = new Generator(2);
        using var inputs = rand(Batch, 1, 28, 28, generator: generator);
        Tensor[] labels = [randint(0, 10, Batch, generator: generator), randint(0, 10, Batch, generator: generator)];

        var trunk = modes.Select(_ => new List<double>()).ToArray();
        var step = modes.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round < warmup + steps; round++)
        {
            for (var m = 0; m < modes.Length; m++)
            {
                var model = models[m];
                var clock = Stopwatch.StartNew();
                using (var scope = NewDisposeScope())
                {
                    var features = model.Features(inputs);
                    autograd.grad([features.sum()], [.. model.SharedParameters]);
                }
                var trunkTime = clock.Elapsed.TotalMilliseconds;
                clock.Restart();
                using (var scope = NewDisposeScope())
                {
                    var features = model.Features(inputs);
                    var outputs = model.Heads(features);
                    optimizers[m].Step([.. outputs.Select((o, t) => nn.functional.cross_entropy(o, labels[t]))], features);
                }
                if (round >= warmup)
                {
                    trunk[m].Add(trunkTime);
                    step[m].Add(clock.Elapsed.TotalMilliseconds);
                }
            }
        }

        var c = CultureInfo.InvariantCulture;
        var report = new StringBuilder();
        report.AppendLine(c, $"MultiLeNet, batch {Batch}, medians over {steps} interleaved rounds after {warmup} warm-up rounds; torch threads {get_num_threads()}; {Environment.ProcessorCount} cores.");
        report.AppendLine();
        report.AppendLine("| convolution | trunk forward + backward (ms) | PCGrad step, T = 2 (ms) |");
        report.AppendLine("|---|---:|---:|");
        for (var m = 0; m < modes.Length; m++)
        {
            report.AppendLine(c, $"| {modes[m].Name} | {StepBenchmark.Median(trunk[m]):F2} | {StepBenchmark.Median(step[m]):F2} |");
        }
        report.AppendLine(c, $"| ratio GemmConv2d / Conv2d | {StepBenchmark.Median(trunk[1]) / StepBenchmark.Median(trunk[0]):F2} | {StepBenchmark.Median(step[1]) / StepBenchmark.Median(step[0]):F2} |");
        Console.Write(report);
        Directory.CreateDirectory(outputDirectory);
        var path = Path.Combine(outputDirectory, $"convolution-threads{threads}.md");
        File.WriteAllText(path + ".tmp", report.ToString());
        File.Move(path + ".tmp", path, overwrite: true);
        Console.WriteLine($"written {path}");
        foreach (var disposable in optimizers.Cast<IDisposable>().Concat(models).Concat(labels))
        {
            disposable.Dispose();
        }
    }
}
