using System.Diagnostics;
using System.Globalization;
using System.Text;
using ScottPlot;

namespace GradientSurgery.Benchmarks;

/// <summary>
/// The step benchmark: the five modes interleaved step by step in one process, medians after warm-up, the
/// ratios the project's targets are stated in, the surgery share, and each mode's peak memory measured in a
/// separate process.
/// </summary>
internal static class StepBenchmark
{
    private static readonly StepMode[] Modes = Enum.GetValues<StepMode>();

    public static void Run(IReadOnlyList<int> taskCounts, int steps, int warmup, string outputDirectory)
    {
        Directory.CreateDirectory(outputDirectory);
        var rows = new List<Row>();
        foreach (var tasks in taskCounts)
        {
            using var runner = new StepRunner(tasks, seed: 1);
            var times = Modes.ToDictionary(m => m, _ => new List<double>());
            var surgery = Modes.ToDictionary(m => m, _ => new List<double>());
            for (var round = -warmup; round < steps; round++)
            {
                // Rotate the order each round so that no mode always runs right after the same other one.
                for (var k = 0; k < Modes.Length; k++)
                {
                    var mode = Modes[(k + Math.Max(round, 0)) % Modes.Length];
                    var clock = Stopwatch.StartNew();
                    var surgeryTime = runner.Step(mode);
                    var elapsed = clock.Elapsed.TotalMilliseconds;
                    if (round >= 0)
                    {
                        times[mode].Add(elapsed);
                        surgery[mode].Add(surgeryTime.TotalMilliseconds);
                    }
                }
            }
            var row = new Row(tasks, runner.SharedParameterCount,
                Modes.ToDictionary(m => m, m => Median(times[m])),
                Modes.ToDictionary(m => m, m => Median(surgery[m])),
                Modes.ToDictionary(m => m, m => MeasureMemory(tasks, m, liveMemoryOnly: false)),
                Modes.ToDictionary(m => m, m => MeasureMemory(tasks, m, liveMemoryOnly: true)));
            rows.Add(row);
            Console.WriteLine(row.Describe());
        }
        var report = Report(rows, steps, warmup);
        File.WriteAllText(Path.Combine(outputDirectory, "step-benchmark.md"), report);
        Plot(rows, Path.Combine(outputDirectory, "step-time-vs-tasks.png"));
        Console.WriteLine(report);
    }

    /// <summary>
    /// Peak resident memory of a separate process that runs only <paramref name="mode"/>. With
    /// <paramref name="liveMemoryOnly"/>, glibc serves every block over 128 KiB by mmap (returned to the system on free)
    /// and the .NET GC collects every 2 MiB of managed allocations, so the peak counts what is alive rather than what
    /// glibc's heap keeps once its dynamic threshold has risen or the garbage a larger gen0 budget lets accumulate.
    /// </summary>
    private static (double Setup, double Peak) MeasureMemory(int tasks, StepMode mode, bool liveMemoryOnly)
    {
        var host = Environment.ProcessPath!;
        // Started as `dotnet bench.dll` the host needs the assembly as its first argument; the apphost does not.
        string[] prefix = Path.GetFileNameWithoutExtension(host) == "dotnet" ? [typeof(StepBenchmark).Assembly.Location] : [];
        var start = new ProcessStartInfo(host, [.. prefix, "memory", "--tasks", tasks.ToString(CultureInfo.InvariantCulture), "--mode", ((int)mode).ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
        };
        if (liveMemoryOnly)
        {
            start.Environment["MALLOC_MMAP_THRESHOLD_"] = "131072";
            start.Environment["DOTNET_GCgen0size"] = "0x200000";
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var line = output.Split('\n').Single(l => l.StartsWith("memory ", StringComparison.Ordinal)).Split(' ');
        return (double.Parse(line[1], CultureInfo.InvariantCulture), double.Parse(line[2], CultureInfo.InvariantCulture));
    }

    /// <summary>The child process of <see cref="MeasureMemory"/>: prints "memory SETUP_MIB PEAK_MIB".</summary>
    public static void MemoryProbe(int tasks, StepMode mode, int steps)
    {
        using var runner = new StepRunner(tasks, seed: 1);
        var setup = ProcessMemory.PeakResidentMiB;
        for (var step = 0; step < steps; step++)
        {
            runner.Step(mode);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"memory {setup:F1} {ProcessMemory.PeakResidentMiB:F1}"));
    }

    private sealed record Row(
        int Tasks,
        long SharedParameters,
        Dictionary<StepMode, double> Median,
        Dictionary<StepMode, double> Surgery,
        Dictionary<StepMode, (double Setup, double Peak)> Memory,
        Dictionary<StepMode, (double Setup, double Peak)> LiveMemory)
    {
        public double BestOurs => Math.Min(Median[StepMode.PCGradParameters], Median[StepMode.PCGradFeatures]);

        public double Ratio(StepMode a, StepMode b) => Median[a] / Median[b];

        public double Budget => (Tasks + 1) * SharedParameters * 4 / 1048576.0;

        public string Describe() =>
            $"T={Tasks}: " + string.Join(", ", Median.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F2} ms")));
    }

    private static string Report(IReadOnlyList<Row> rows, int steps, int warmup)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"Medians over {steps} interleaved steps per mode after {warmup} warm-up rounds; reference model: trunk 784-512-512 (ReLU), T heads 512→10, batch 256, cross-entropy, Adam; torch threads {TorchSharp.torch.get_num_threads()}.");
        text.AppendLine();
        text.AppendLine("| T | P shared | 1 plain (ms) | 2 lower bound | 3 PCGrad params | 4 PCGrad features | 5 port algorithm | surgery share (3 / 4) |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            text.AppendLine(c, $"| {r.Tasks} | {r.SharedParameters:N0} | {r.Median[StepMode.Plain]:F2} | {r.Median[StepMode.LowerBound]:F2} | {r.Median[StepMode.PCGradParameters]:F2} | {r.Median[StepMode.PCGradFeatures]:F2} | {r.Median[StepMode.PortAlgorithm]:F2} | {r.Surgery[StepMode.PCGradParameters] / r.Median[StepMode.PCGradParameters]:P1} / {r.Surgery[StepMode.PCGradFeatures] / r.Median[StepMode.PCGradFeatures]:P1} |");
        }
        text.AppendLine();
        text.AppendLine("| T | 3/1 | 4/1 | 3/2 | 4/2 | 3/5 | 4/5 | best(3,4)/2 (target ≤ 1.15) | best(3,4)/5 (target ≤ 0.9 / 0.6 / 0.4) | 2/5 (floor of best/5) | Python port step/plain (reference) |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var python = new Dictionary<int, string> { [2] = "1.45", [10] = "4.6", [40] = "17.3" };
        foreach (var r in rows)
        {
            text.AppendLine(c, $"| {r.Tasks} | {r.Ratio(StepMode.PCGradParameters, StepMode.Plain):F2} | {r.Ratio(StepMode.PCGradFeatures, StepMode.Plain):F2} | {r.Ratio(StepMode.PCGradParameters, StepMode.LowerBound):F2} | {r.Ratio(StepMode.PCGradFeatures, StepMode.LowerBound):F2} | {r.Ratio(StepMode.PCGradParameters, StepMode.PortAlgorithm):F2} | {r.Ratio(StepMode.PCGradFeatures, StepMode.PortAlgorithm):F2} | {r.BestOurs / r.Median[StepMode.LowerBound]:F2} | {r.BestOurs / r.Median[StepMode.PortAlgorithm]:F2} | {r.Ratio(StepMode.LowerBound, StepMode.PortAlgorithm):F2} | {python.GetValueOrDefault(r.Tasks, "–")} |");
        }
        text.AppendLine();
        MemoryTable(text, rows, r => r.Memory, "default glibc and .NET GC settings");
        MemoryTable(text, rows, r => r.LiveMemory, "live memory only (MALLOC_MMAP_THRESHOLD_=131072: freed blocks leave the process; DOTNET_GCgen0size=0x200000: managed garbage is collected every 2 MiB)");
        return text.ToString();
    }

    private static void MemoryTable(StringBuilder text, IReadOnlyList<Row> rows, Func<Row, Dictionary<StepMode, (double Setup, double Peak)>> memory, string allocator)
    {
        var c = CultureInfo.InvariantCulture;
        double Extra(Row r, StepMode mode) => memory(r)[mode].Peak - memory(r)[mode].Setup;
        text.AppendLine();
        text.AppendLine(c, $"Peak resident memory (MiB) of a separate process per mode, {allocator} (extra = peak − resident size after building model and data; PCGrad over plain = best PCGrad extra − plain extra, target ≤ (T+1)·P·4 B + a few MB):");
        text.AppendLine();
        text.AppendLine("| T | (T+1)·P·4 B | 1 plain extra | 2 lower bound extra | 3 PCGrad params extra | 4 PCGrad features extra | 5 port extra | PCGrad over plain | 5 over plain |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var plain = Extra(r, StepMode.Plain);
            var best = Math.Min(Extra(r, StepMode.PCGradParameters), Extra(r, StepMode.PCGradFeatures));
            text.AppendLine(c, $"| {r.Tasks} | {r.Budget:F1} | {plain:F1} | {Extra(r, StepMode.LowerBound):F1} | {Extra(r, StepMode.PCGradParameters):F1} | {Extra(r, StepMode.PCGradFeatures):F1} | {Extra(r, StepMode.PortAlgorithm):F1} | {best - plain:F1} ({best - plain - r.Budget:+0.0;-0.0} over (T+1)·P·4) | {Extra(r, StepMode.PortAlgorithm) - plain:F1} |");
        }
    }

    private static void Plot(IReadOnlyList<Row> rows, string path)
    {
        var plot = new Plot();
        var names = new Dictionary<StepMode, string>
        {
            [StepMode.Plain] = "1 plain (summed loss)",
            [StepMode.LowerBound] = "2 lower bound (T VJPs)",
            [StepMode.PCGradParameters] = "3 PCGrad, parameters path",
            [StepMode.PCGradFeatures] = "4 PCGrad, features path",
            [StepMode.PortAlgorithm] = "5 Python port's algorithm",
        };
        foreach (var mode in Modes)
        {
            var line = plot.Add.Scatter(rows.Select(r => (double)r.Tasks).ToArray(), rows.Select(r => r.Median[mode]).ToArray());
            line.LegendText = names[mode];
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic();
        plot.Title("Step time vs number of tasks (median ms, same process, interleaved)");
        plot.XLabel("tasks T");
        plot.YLabel("ms per step");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 900, 600);
    }

    internal static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
    }
}
