using System.Diagnostics;
using System.Globalization;
using System.Text;
using GradientSurgery.Aggregation;
using static TorchSharp.torch;

namespace GradientSurgery.Benchmarks;

/// <summary>
/// Where a PCGrad step's time goes, phase by phase, on the reference model: the parts the library runs (the features
/// path's head and trunk VJPs with the copy into J, the Gramian, the weights, the combination) beside the lower bound's
/// bare VJPs, and the Gramian by the hand-written kernel against <c>mm(J, Jᵀ)</c> on the same J.
/// </summary>
internal static class Breakdown
{
    public static void Run(int tasks, int steps, string outputDirectory)
    {
        using var model = new ReferenceModel(tasks, seed: 1);
        var shared = model.Shared.ToArray();
        var heads = model.Heads.Select(h => h.parameters().ToArray()).ToArray();
        var pcgrad = new PCGrad(seed: 1);
        using var jacobian = empty(tasks, model.SharedCount);
        var times = new Dictionary<string, List<double>>();
        void Time(string phase, Action action)
        {
            var clock = Stopwatch.StartNew();
            action();
            if (!times.TryGetValue(phase, out var list))
            {
                times[phase] = list = [];
            }
            list.Add(clock.Elapsed.TotalMilliseconds);
        }

        const int warmup = 3;
        for (var round = 0; round < warmup + steps; round++)
        {
            using (var scope = NewDisposeScope())
            {
                var (_, losses) = model.Forward();
                Time("lower bound: T VJPs (loss → head and trunk)", () =>
                {
                    for (var t = 0; t < tasks; t++)
                    {
                        autograd.grad([losses[t]], [.. shared, .. heads[t]], retain_graph: t < tasks - 1);
                    }
                });
            }
            using (var scope = NewDisposeScope())
            {
                Tensor features = null!;
                Tensor[] losses = null!;
                Time("forward", () => (features, losses) = model.Forward());
                Time("features path: T VJPs (head, then trunk) + copy into J", () =>
                {
                    for (var t = 0; t < tasks; t++)
                    {
                        var featureGradient = autograd.grad([losses[t]], [features, .. heads[t]], retain_graph: true)[0];
                        var gradients = autograd.grad([features], shared, [featureGradient], retain_graph: t < tasks - 1);
                        long offset = 0;
                        foreach (var (p, g) in shared.Zip(gradients))
                        {
                            jacobian[t].narrow(0, offset, p.numel()).copy_(g.reshape(-1));
                            offset += p.numel();
                        }
                    }
                });
                double[,] gramian = null!;
                Time("Gramian J Jᵀ (library)", () => gramian = Jacobian.Gramian(jacobian));
                double[] weights = null!;
                Time("PCGrad weights (T×T, float64)", () => weights = pcgrad.Weights(gramian));
                Time("combination wᵀJ", () => Jacobian.Combine(jacobian, weights).Dispose());
                Time("Gramian by mm(J, Jᵀ), for comparison", () => jacobian.mm(jacobian.t()).cpu().Dispose());
            }
        }

        var c = CultureInfo.InvariantCulture;
        var report = new StringBuilder();
        report.AppendLine(c, $"Phases of one step at T = {tasks} (P shared = {model.SharedCount:N0}), medians over {steps} rounds after {warmup} warm-up rounds; torch threads {get_num_threads()}.");
        report.AppendLine();
        report.AppendLine("| phase | median ms |");
        report.AppendLine("|---|---:|");
        foreach (var (phase, list) in times)
        {
            var sorted = list.Skip(warmup).Order().ToArray();
            report.AppendLine(c, $"| {phase} | {sorted[sorted.Length / 2]:F2} |");
        }
        Console.Write(report);
        Directory.CreateDirectory(outputDirectory);
        File.WriteAllText(Path.Combine(outputDirectory, $"breakdown-T{tasks}.md"), report.ToString());
    }
}
