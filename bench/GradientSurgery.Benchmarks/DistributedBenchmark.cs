using System.Diagnostics;
using System.Globalization;
using System.Text;
using GradientSurgery.Distributed;
using GradientSurgery.Models;
using GradientSurgery.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Benchmarks;

/// <summary>
/// Data-parallel throughput: one training step of PCGrad (forward, task Jacobian, surgery, Adam) on a global batch of
/// 256, in one process with one thread against 2 MPI ranks with one thread each (each its half of the batch), for
/// MultiLeNet and the step benchmark's MLP at T = 2 and 10, with both Jacobian reductions; the bytes each rank sends
/// per step; and a scaling model to 8 and 64 ranks built from the measured compute and the measured (or an assumed)
/// bandwidth.
/// </summary>
internal static class DistributedBenchmark
{
    private const int GlobalBatch = 256;
    private static readonly string[] Models = ["multilenet", "mlp"];
    private static readonly int[] TaskCounts = [2, 10];

    /// <summary>The launcher: the one-process baselines here, the 2-rank runs under mpirun, then the report.</summary>
    public static int Run(int steps, int warmup, string outputDirectory)
    {
        set_num_threads(1);
        Directory.CreateDirectory(outputDirectory);
        var rows = new List<string>();
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Data-parallel PCGrad step, global batch {GlobalBatch}, 1 thread per process, medians of {steps} steps after {warmup} warm-up ({DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores).");
        report.AppendLine();
        report.AppendLine("| model | T | P (shared) | 1 process, ms | 1 process on B/2, ms | 2 ranks reduce-scatter, ms | speed-up | 2 ranks all-reduce of J, ms | speed-up | bytes/rank/step reduce-scatter | all-reduce of J | J reduce-scatter + update all-gather alone, ms | J all-reduce alone, ms |");
        report.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        var model = new StringBuilder();
        foreach (var name in Models)
        {
            foreach (var tasks in TaskCounts)
            {
                var whole = Measure(name, tasks, rank: 0, ranks: 1, null, JacobianReduction.ReduceScatter, steps, warmup);
                var half = Measure(name, tasks, rank: 0, ranks: 2, null, JacobianReduction.ReduceScatter, steps, warmup);
                var (scatter, scatterAlone, allReduceAlone, gatherAlone) = OnRanks(name, tasks, JacobianReduction.ReduceScatter, steps, warmup);
                var allReduce = OnRanks(name, tasks, JacobianReduction.AllReduce, steps, warmup).Step;
                var traffic = Traffic.Of(whole.SharedCount, whole.HeadCount, tasks, 2);
                report.AppendLine(CultureInfo.InvariantCulture,
                    $"| {name} | {tasks} | {whole.SharedCount:N0} | {whole.Milliseconds:F2} | {half.Milliseconds:F2} | {scatter:F2} | {whole.Milliseconds / scatter:F2}× | {allReduce:F2} | {whole.Milliseconds / allReduce:F2}× | {traffic.ReduceScatter:N0} | {traffic.AllReduce:N0} | {scatterAlone + gatherAlone:F2} | {allReduceAlone:F2} |");
                model.AppendLine(Scaling(name, tasks, whole, half, scatter));
                Console.WriteLine($"{name} T={tasks}: 1 process {whole.Milliseconds:F2} ms, 2 ranks {scatter:F2} ms (reduce-scatter) / {allReduce:F2} ms (all-reduce)");
            }
        }
        report.AppendLine();
        report.AppendLine("Scaling model (see docs/distributed.md for its assumptions): step(R) = fixed + per-sample·B/R + bytes(R)/bandwidth + (5(R−1) + 6 log₂R)·latency, with fixed and per-sample fitted to the one-process times on B and B/2; shared memory at the bandwidth the 2-rank run achieved (at least 1 GB/s) and 1 µs, 10 Gb/s with 20 µs, 100 Gb/s with 5 µs.");
        report.AppendLine();
        report.AppendLine("| model | T | fixed ms | per-sample µs | 8 ranks, shared memory | 8 ranks, 10 Gb/s | 64 ranks, 10 Gb/s | 64 ranks, 100 Gb/s |");
        report.AppendLine("|---|---|---|---|---|---|---|---|");
        report.Append(model);
        var path = Path.Combine(outputDirectory, "distributed-benchmark.md");
        File.WriteAllText(path, report.ToString());
        Console.WriteLine(report);
        return 0;
    }

    /// <summary>One rank of <see cref="OnRanks"/>: rank 0 prints the median step time.</summary>
    public static int Rank(string name, int tasks, JacobianReduction reduction, int steps, int warmup)
    {
        set_num_threads(1);
        using var world = MpiCommunicator.Initialize();
        var result = Measure(name, tasks, world.Rank, world.Size, world, reduction, steps, warmup);
        var (scatter, allReduce, gather) = Collectives(world, tasks, result.SharedCount, steps);
        if (world.Rank == 0)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median-ms {result.Milliseconds} {scatter} {allReduce} {gather}"));
        }
        return 0;
    }

    /// <summary>Median times of the collectives alone on a float32 T×P Jacobian: reduce-scatter, all-reduce, all-gather of the update.</summary>
    private static (double Scatter, double AllReduce, double Gather) Collectives(MpiCommunicator world, int tasks, long shared, int repeats)
    {
        var block = (int)((shared + world.Size - 1) / world.Size);
        var jacobian = new float[tasks * block * world.Size];
        var part = new float[tasks * block];
        var update = new float[block * world.Size];
        var mine = new float[block];
        var times = (Scatter: new List<double>(), AllReduce: new List<double>(), Gather: new List<double>());
        for (var k = 0; k < repeats; k++)
        {
            world.Barrier();
            var clock = Stopwatch.StartNew();
            world.ReduceScatterBlockSum(jacobian, part);
            times.Scatter.Add(clock.Elapsed.TotalMilliseconds);
            world.Barrier();
            clock.Restart();
            world.AllReduceSum(jacobian.AsSpan(0, (int)(tasks * shared)));
            times.AllReduce.Add(clock.Elapsed.TotalMilliseconds);
            world.Barrier();
            clock.Restart();
            world.AllGather<float>(mine, update);
            times.Gather.Add(clock.Elapsed.TotalMilliseconds);
        }
        return (StepBenchmark.Median(times.Scatter), StepBenchmark.Median(times.AllReduce), StepBenchmark.Median(times.Gather));
    }

    private static (double Step, double Scatter, double AllReduce, double Gather) OnRanks(string name, int tasks, JacobianReduction reduction, int steps, int warmup)
    {
        var host = Environment.ProcessPath!;
        string[] self = Path.GetFileNameWithoutExtension(host) == "dotnet" ? [host, typeof(DistributedBenchmark).Assembly.Location] : [host];
        var mpirun = LocalMpirun.Find() ?? throw new InvalidOperationException($"The distributed benchmark needs mpirun: apt-get install {MpiLibrary.DebianPackage}.");
        var start = LocalMpirun.StartInfo(mpirun, ["-np", "2", "--bind-to", "core", .. self, "distributed-rank", "--model", name,
            "--tasks", tasks.ToString(CultureInfo.InvariantCulture), "--reduction", reduction.ToString(), "--steps", steps.ToString(CultureInfo.InvariantCulture), "--warmup", warmup.ToString(CultureInfo.InvariantCulture)]);
        start.RedirectStandardOutput = true;
        start.Environment["OMP_NUM_THREADS"] = "1";
        // .NET writes terminal codes to a redirected stdout unless TERM says there is no terminal.
        start.Environment["TERM"] = "dumb";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"mpirun exited with {process.ExitCode}: {output}");
        }
        var line = output.Split('\n').SingleOrDefault(l => l.StartsWith("median-ms ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"mpirun printed no step time: {output}");
        var values = line["median-ms ".Length..].Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        return (values[0], values[1], values[2], values[3]);
    }

    private sealed record Measured(double Milliseconds, long SharedCount, long HeadCount);

    /// <summary>
    /// Median step time of rank <paramref name="rank"/> of <paramref name="ranks"/> on its shard of the global batch;
    /// without a communicator, the one-process step on the shard (B/ranks samples).
    /// </summary>
    private static Measured Measure(string name, int tasks, int rank, int ranks, MpiCommunicator? world, JacobianReduction reduction, int steps, int warmup)
    {
        manual_seed(1);
        using var network = Network(name, tasks);
        var shard = GlobalBatch / ranks;
        var generator = new Generator(2);
        using var inputs = (name == "mlp" ? randn([GlobalBatch, 784], generator: generator) : rand([GlobalBatch, 1, 28, 28], generator: generator)).narrow(0, rank * shard, shard).contiguous();
        var labels = Enumerable.Range(0, tasks).Select(_ => randint(0, 10, GlobalBatch, generator: generator).narrow(0, rank * shard, shard).contiguous()).ToArray();
        var shared = network.Shared.ToArray();
        var all = network.All;
        var optimizer = optim.Adam(all, 1e-4);
        var aggregator = MethodCatalog.CreateAggregator("pcgrad", 1);
        using IMultiTaskStep step = world is null
            ? new AggregationStep(optimizer, aggregator, shared)
            : new DistributedAggregationStep(optimizer, aggregator, shared, world, reduction);
        var times = new List<double>();
        for (var k = -warmup; k < steps; k++)
        {
            world?.Barrier();
            var clock = Stopwatch.StartNew();
            using (NewDisposeScope())
            {
                var features = network.Features(inputs);
                var losses = network.Heads(features).Select((o, t) => nn.functional.cross_entropy(o, labels[t])).ToArray();
                step.Step(losses, features);
            }
            if (k >= 0)
            {
                times.Add(clock.Elapsed.TotalMilliseconds);
            }
        }
        foreach (var label in labels)
        {
            label.Dispose();
        }
        var sharedCount = shared.Sum(p => p.numel());
        return new Measured(StepBenchmark.Median(times), sharedCount, all.Sum(p => p.numel()) - sharedCount);
    }

    private sealed class NetworkUnderTest(nn.Module[] modules, IEnumerable<Parameter> shared, Func<Tensor, Tensor> features, Func<Tensor, Tensor[]> heads) : IDisposable
    {
        public Parameter[] All { get; } = [.. modules.SelectMany(m => m.parameters())];

        public IEnumerable<Parameter> Shared => shared;

        public Tensor Features(Tensor inputs) => features(inputs);

        public Tensor[] Heads(Tensor trunk) => heads(trunk);

        public void Dispose()
        {
            foreach (var module in modules)
            {
                module.Dispose();
            }
        }
    }

    private static NetworkUnderTest Network(string name, int tasks)
    {
        if (name == "multilenet")
        {
            var lenet = new MultiLeNet(tasks);
            return new NetworkUnderTest([lenet], lenet.SharedParameters, lenet.Features, lenet.Heads);
        }
        var trunk = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU());
        Linear[] heads = [.. Enumerable.Range(0, tasks).Select(_ => nn.Linear(512, 10))];
        return new NetworkUnderTest([trunk, .. heads], trunk.parameters(), trunk.forward, f => [.. heads.Select(h => h.forward(f))]);
    }

    /// <summary>
    /// Bytes one rank sends per step with ring collectives (what Open MPI uses for large messages): a reduce-scatter or
    /// all-gather of n bytes sends (R−1)/R·n, an all-reduce 2(R−1)/R·n, a broadcast at most n (from the root).
    /// </summary>
    private readonly record struct Traffic(long ReduceScatter, long AllReduce)
    {
        public static Traffic Of(long shared, long heads, int tasks, int ranks, int bytesPerValue = 4)
        {
            double share = (ranks - 1) / (double)ranks;
            var padded = (shared + ranks - 1) / ranks * ranks;
            // Losses (all-reduce of T doubles), heads (all-reduce of their gradients and a count each), the shard sizes.
            var common = 2 * share * (tasks * 8 + heads * bytesPerValue + 8 * 2);
            var scatter = share * tasks * padded * bytesPerValue      // reduce-scatter of J
                + 2 * share * tasks * tasks * 8 + tasks * tasks * 8    // all-reduce of the partial Gramians, rank 0's copy
                + tasks * 8                                           // rank 0's weights
                + share * padded * bytesPerValue;                    // all-gather of the update
            var allReduce = 2 * share * tasks * shared * bytesPerValue  // all-reduce of J
                + shared * bytesPerValue + tasks * 8;                    // rank 0's update and weights
            return new Traffic((long)(common + scatter), (long)(common + allReduce));
        }
    }

    /// <summary>The scaling model's row: fit fixed + per-sample·B to the one-process times on B and B/2, add communication.</summary>
    private static string Scaling(string name, int tasks, Measured whole, Measured half, double twoRanks)
    {
        // The fit is noisy on a shared machine: a negative fixed part means "all of it scales with the batch".
        var fixedPart = Math.Max(0, 2 * half.Milliseconds - whole.Milliseconds);
        var perSample = (whole.Milliseconds - fixedPart) / GlobalBatch;
        double Step(int ranks, double bytesPerSecond, double latencySeconds)
        {
            var bytes = Traffic.Of(whole.SharedCount, whole.HeadCount, tasks, ranks).ReduceScatter;
            // Latency: the three large collectives as rings (≈ 5(R−1) messages in sequence), the six small ones
            // (losses, shard sizes, Gramian, weights, stop flag, …) as recursive doubling (log₂R each).
            var messages = 5 * (ranks - 1) + 6 * Math.Log2(ranks);
            return fixedPart + perSample * GlobalBatch / ranks + 1000 * (bytes / bytesPerSecond + messages * latencySeconds);
        }
        // Shared memory: the bandwidth the 2-rank run achieved (its time beyond the compute of B/2), floored at 1 GB/s.
        var measuredSeconds = Math.Max(1e-6, (twoRanks - half.Milliseconds) / 1000);
        var sharedMemory = Math.Max(1e9, Traffic.Of(whole.SharedCount, whole.HeadCount, tasks, 2).ReduceScatter / measuredSeconds);
        string Speedup(double milliseconds) => string.Create(CultureInfo.InvariantCulture, $"{milliseconds:F2} ms ({whole.Milliseconds / milliseconds:F1}×)");
        return string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {tasks} | {fixedPart:F2} | {1000 * perSample:F1} | {Speedup(Step(8, sharedMemory, 1e-6))} | {Speedup(Step(8, 1.25e9, 20e-6))} | {Speedup(Step(64, 1.25e9, 20e-6))} | {Speedup(Step(64, 12.5e9, 5e-6))} |");
    }
}
