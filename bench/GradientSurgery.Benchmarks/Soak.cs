using System.Globalization;
using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using static TorchSharp.torch;

namespace GradientSurgery.Benchmarks;

/// <summary>
/// Native-memory soak: many PCGrad steps on a small model, resident memory sampled every 1,000 steps. Every
/// step runs in a dispose scope; if anything leaked per step, memory would grow linearly.
/// </summary>
internal static class Soak
{
    public static void Run(int steps, string outputDirectory)
    {
        using var model = new ReferenceModel(tasks: 4, seed: 3, input: 64, hidden: 128, batch: 64);
        using var optimizer = new MultiTaskOptimizer(optim.Adam(model.All, 1e-4), new PCGrad(seed: 3), model.Shared);
        var samples = new List<(int Step, double ResidentMiB)>();
        for (var step = 1; step <= steps; step++)
        {
            using (var scope = NewDisposeScope())
            {
                var (features, losses) = model.Forward();
                optimizer.Step(losses, features);
            }
            if (step % 1000 == 0)
            {
                // Measure memory in use, not what the managed heap or glibc keep cached for reuse.
                ProcessMemory.Settle();
                samples.Add((step, ProcessMemory.ResidentMiB));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {step}: resident {samples[^1].ResidentMiB:F1} MiB"));
            }
        }
        var first = samples.First(s => s.Step == 1000).ResidentMiB;
        var last = samples[^1].ResidentMiB;
        var lines = new List<string>
        {
            "| step | resident MiB |",
            "|---:|---:|",
        };
        lines.AddRange(samples.Select(s => string.Create(CultureInfo.InvariantCulture, $"| {s.Step} | {s.ResidentMiB:F1} |")));
        lines.Add("");
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"Resident memory at step {samples[^1].Step} / step 1000: {last / first:F4} ({(last - first):+0.0;-0.0} MiB); target within 5 %."));
        Directory.CreateDirectory(outputDirectory);
        File.WriteAllLines(Path.Combine(outputDirectory, "soak.md"), lines);
        Console.WriteLine(lines[^1]);
    }
}
