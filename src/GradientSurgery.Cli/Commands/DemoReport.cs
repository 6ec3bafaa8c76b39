using System.Globalization;
using System.Text;
using GradientSurgery.Experiments;
using GradientSurgery.Experiments.Toy;

namespace GradientSurgery.Cli.Commands;

/// <summary>Writes the demo's report.md.</summary>
internal static class DemoReport
{
    public static void Write(string path, DemoOptions options, IReadOnlyList<ToyRun> toyRuns, IReadOnlyList<SyntheticOutputs.MethodResult> synthetic, TimeSpan elapsed)
    {
        var config = options.Synthetic;
        var text = new StringBuilder();
        var invariant = CultureInfo.InvariantCulture;
        text.AppendLine("# GradientSurgery demo");
        text.AppendLine();
        text.AppendLine(invariant, $"Seed {options.Seed}; finished in {elapsed.TotalSeconds:F0} s on {Environment.ProcessorCount} cores, {DateTime.Now:yyyy-MM-dd HH:mm}.");
        text.AppendLine(invariant, $"Reproduce with `gsurg demo --seed {options.Seed} --seeds {options.Seeds} --steps {config.Steps} --toy-steps {options.Toy.Steps} --tasks {config.Tasks} --methods {string.Join(",", options.Methods)}`.");
        text.AppendLine();
        text.AppendLine("## 1. The paper's toy (Figure 1)");
        text.AppendLine();
        text.AppendLine(invariant, $"L1 = 20 log(max(|0.5θ1 + tanh θ2|, 5e-6)), L2 = 25 log(max(|0.5θ1 − tanh θ2 + 2|, 5e-6)), start (0.5, −3), Adam lr {options.Toy.LearningRate}, {options.Toy.Steps:N0} steps. ");
        text.AppendLine("Plain Adam on L1 + L2 stalls in the valley (L2 stays high); with PCGrad it escapes and reaches low values of both losses.");
        text.AppendLine();
        text.AppendLine("| method | final θ1 | final θ2 | L1 | L2 |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var run in toyRuns)
        {
            text.AppendLine(invariant, $"| {run.DisplayName} | {run.Final.X:F3} | {run.Final.Y:F3} | {run.FinalLosses.L1:F2} | {run.FinalLosses.L2:F2} |");
        }
        text.AppendLine();
        text.AppendLine("![toy](toy/figure1.png)");
        text.AppendLine();
        text.AppendLine("Data: `toy/trajectories.csv`, `toy/summary.csv`.");
        text.AppendLine();
        text.AppendLine("## 2. Synthetic multi-task regression");
        text.AppendLine();
        text.AppendLine(invariant, $"Task i predicts y_i = σ_i tanh((B + ε_i) x) (GradNorm-style: a common map B, a task-specific ε_i with spread {config.TaskSpread}, scales σ_i from 1 to {config.LargestScale:G3}) ");
        text.AppendLine(invariant, $"from x ∈ ℝ^{config.InputSize}, through a shared trunk {config.InputSize}→{config.HiddenSize}→{config.FeatureSize} (ReLU) and a linear head per task; ");
        text.AppendLine(invariant, $"{config.TrainSize} training and {config.TestSize} test examples, Adam lr {config.LearningRate}, batch {config.BatchSize}, {config.Steps:N0} steps, seeds {string.Join(", ", options.RunSeeds)}.");
        text.AppendLine();
        text.Append("| method |");
        for (var t = 0; t < config.Tasks; t++)
        {
            text.Append(invariant, $" task {t} (σ={config.Scales[t]:G3}) |");
        }
        text.AppendLine(" conflicting pairs | mean cos | Φ | ξ |");
        text.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", config.Tasks + 4)));
        foreach (var result in synthetic)
        {
            text.Append(invariant, $"| {result.DisplayName} |");
            for (var t = 0; t < config.Tasks; t++)
            {
                var m = result.FinalTestMean(t);
                text.Append(invariant, $" {m[0]:G4} ± {m[1]:G2} |");
            }
            text.AppendLine(invariant,
                $" {SyntheticOutputs.Statistic(result.MeanOverTraining(r => r.ConflictFraction), "P0")} | {SyntheticOutputs.Statistic(result.MeanOverTraining(r => r.MeanCosine), "F3")} | {SyntheticOutputs.Statistic(result.MeanOverTraining(r => r.MagnitudeSimilarity), "F3")} | {SyntheticOutputs.Statistic(result.MeanOverTraining(r => r.Curvature), "F3")} |");
        }
        text.AppendLine();
        text.AppendLine("Task columns: final test MSE, mean ± standard deviation over seeds. Conflict columns: averages over all training steps of the");
        text.AppendLine("fraction of task pairs whose shared-parameter gradients conflict (cos < 0), the mean pairwise cosine, the gradient magnitude");
        text.AppendLine("similarity Φ and the curvature bounding measure ξ (the paper's \"tragic triad\"); n/a for loss weightings, whose single backward");
        text.AppendLine("pass never forms the per-task gradients (their conflict columns in metrics.csv are empty).");
        text.AppendLine();
        text.AppendLine("![test loss per task](synthetic/loss_curves.png)");
        text.AppendLine();
        text.AppendLine("![conflict statistics](synthetic/conflicts.png)");
        text.AppendLine();
        text.AppendLine("Data: `synthetic/metrics.csv` (every evaluation of every run), `synthetic/summary.csv`; TensorBoard: `tensorboard --logdir synthetic/tensorboard`.");
        AtomicFile.WriteAllText(path, text.ToString());
    }
}
