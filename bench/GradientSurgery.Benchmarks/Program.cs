using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using GradientSurgery.Benchmarks;

// dotnet run -c Release --project bench/GradientSurgery.Benchmarks -- step [--tasks 2,10,40] [--steps 30] [--warmup 5] [--out docs/bench]
//                                                                   breakdown [--tasks 40] [--steps 20] [--out docs/bench]
//                                                                   soak [--steps 10000] [--out docs/bench]
//                                                                   conv [--steps 30] [--warmup 5] [--threads 2] [--out docs/bench]
//                                                                   env [--steps 10000] [--repeats 5] [--out docs/bench]
//                                                                   rl [--tasks 10,50] [--updates 20] [--warmup 3] [--task-pass-updates N] [--steps 20 (0: no MT10)] [--out docs/bench]
//                                                                   distributed [--steps 30] [--warmup 5] [--out docs/bench]   (needs mpirun)
//                                                                   micro [BenchmarkDotNet arguments]
const string Usage = "usage: step [--tasks 2,10,40] [--steps 30] [--warmup 5] [--out DIR] | breakdown [--tasks 40] [--steps 20] [--out DIR] | soak [--steps 10000] [--out DIR] | conv [--steps 30] [--warmup 5] [--threads 2] [--out DIR] | env [--steps 10000] [--repeats 5] [--out DIR] | rl [--tasks 10,50] [--updates 20] [--warmup 3] [--task-pass-updates N] [--steps 20 (0: no MT10)] [--out DIR] | distributed [--steps 30] [--warmup 5] [--out DIR] | micro [BenchmarkDotNet options] | memory --tasks T --mode M [--steps 20]";
if (args.Length == 0)
{
    Console.Error.WriteLine(Usage);
    return 2;
}
TorchSharp.torch.set_num_threads(2);
string Option(string name, string fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
}
int Int(string name, int fallback)
{
    var text = Option(name, fallback.ToString(CultureInfo.InvariantCulture));
    return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
        ? value
        : throw new ArgumentException($"{name} must be a positive integer, got '{text}'.");
}
try
{
    switch (args[0])
    {
        case "step":
            StepBenchmark.Run([.. Option("--tasks", "2,10,40").Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture))], Int("--steps", 30), Int("--warmup", 5), Option("--out", "docs/bench"));
            return 0;
        case "soak":
            Soak.Run(Int("--steps", 10_000), Option("--out", "docs/bench"));
            return 0;
        case "conv":
            ConvolutionBenchmark.Run(Int("--steps", 30), Int("--warmup", 5), Int("--threads", 2), Option("--out", "docs/bench"));
            return 0;
        case "env":
            return EnvironmentBenchmark.Run(Int("--steps", 10_000), Int("--repeats", 5), Option("--out", "docs/bench"));
        case "rl":
            RlBenchmark.Run([.. Option("--tasks", "10,50").Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture))], Int("--updates", 20), Int("--warmup", 3), Int("--task-pass-updates", int.MaxValue), Option("--steps", "20") == "0" ? 0 : Int("--steps", 20), Option("--out", "docs/bench"));
            return 0;
        case "distributed":
            return DistributedBenchmark.Run(Int("--steps", 30), Int("--warmup", 5), Option("--out", "docs/bench"));
        case "distributed-rank":
            return DistributedBenchmark.Rank(Option("--model", "mlp"), Int("--tasks", 2), Enum.Parse<GradientSurgery.Distributed.JacobianReduction>(Option("--reduction", "ReduceScatter")), Int("--steps", 30), Int("--warmup", 5));
        case "memory":
            StepBenchmark.MemoryProbe(Int("--tasks", 2), (StepMode)Int("--mode", 1), Int("--steps", 20));
            return 0;
        case "breakdown":
            Breakdown.Run(Int("--tasks", 40), Int("--steps", 20), Option("--out", "docs/bench"));
            return 0;
        case "micro":
            // In-process: BenchmarkDotNet's generated project would not carry the build's libLibTorchSharp patch.
            BenchmarkRunner.Run<AggregatorBenchmarks>(
                DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance)), args[1..]);
            return 0;
        default:
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
catch (Exception bad) when (bad is ArgumentException or FormatException)
{
    Console.Error.WriteLine(bad.Message);
    return 2;
}
