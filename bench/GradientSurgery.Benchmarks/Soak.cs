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
        using var optimizer = new AggregationStep(optim.Adam(model.All, 1e-4), new PCGrad(seed: 3), model.Shared);
        var samples = new List<(int Step, double ResidentMiB, double ManagedMiB)>();
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
                // The managed heap's committed size moves by a few MiB from one collection to the next (the GC keeps
                // freed regions for reuse); it is reported beside the resident size so that native growth shows apart.
                samples.Add((step, ProcessMemory.ResidentMiB, GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {step}: resident {samples[^1].ResidentMiB:F1} MiB, managed heap committed {samples[^1].ManagedMiB:F1} MiB"));
            }
        }
        var first = samples.First(s => s.Step == 1000);
        var last = samples[^1];
        var lines = new List<string>
        {
            "| step | resident MiB | managed heap committed MiB | resident − managed MiB |",
            "|---:|---:|---:|---:|",
        };
        lines.AddRange(samples.Select(s => string.Create(CultureInfo.InvariantCulture, $"| {s.Step} | {s.ResidentMiB:F1} | {s.ManagedMiB:F1} | {s.ResidentMiB - s.ManagedMiB:F1} |")));
        lines.Add("");
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"Resident memory at step {last.Step} / step 1000: {last.ResidentMiB / first.ResidentMiB:F4} ({last.ResidentMiB - first.ResidentMiB:+0.0;-0.0} MiB), target within 5 %; without the managed heap: {(last.ResidentMiB - last.ManagedMiB) / (first.ResidentMiB - first.ManagedMiB):F4} ({last.ResidentMiB - last.ManagedMiB - first.ResidentMiB + first.ManagedMiB:+0.0;-0.0} MiB)."));
        Directory.CreateDirectory(outputDirectory);
        File.WriteAllLines(Path.Combine(outputDirectory, "soak.md"), lines);
        Console.WriteLine(lines[^1]);
    }
}
