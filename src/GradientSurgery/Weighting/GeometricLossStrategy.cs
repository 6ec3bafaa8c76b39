using static TorchSharp.torch;

namespace GradientSurgery.Weighting;

/// <summary>
/// The geometric loss strategy (GLS) of "MultiNet++: Multi-Stream Feature Aggregation and Geometric Loss
/// Strategy for Multi-Task Learning" (Chennupati, Sistu, Yogamani and Rawashdeh, CVPR Workshops 2019): the
/// objective is the geometric mean of the task losses, (Π_i L_i)^(1/T).
/// </summary>
/// <remarks>
/// <para>
/// Its gradient is Σ_i (GM / (T L_i)) ∇L_i with GM the geometric mean, so each task is weighted by the inverse
/// of its own loss: the strategy is invariant to rescaling a task's loss, which is the paper's motivation.
/// <see cref="ILossWeighting.LastWeights"/> are these GM / (T L_i).
/// </para>
/// <para>
/// Computed as exp(mean_i log L_i), which equals the paper's product form but cannot underflow or overflow
/// for many tasks (a hundred losses of 1e-5 have a product of 1e-500, below the float64 range). Stateless.
/// The losses must be &gt; 0: with a zero loss the product is 0 and its derivative with respect to that loss is
/// infinite for T &gt; 1, so an exception names the task. LibMTL's reported weights are L_i / (T Π L), which are
/// not the gradient's; the objective is the same.
/// </para>
/// </remarks>
public sealed class GeometricLossStrategy : ILossWeighting
{
    private double[] _lastWeights = [];

    /// <inheritdoc />
    public double[] LastWeights => (double[])_lastWeights.Clone();

    /// <summary>(Π_i L_i)^(1/T), as exp(mean_i log L_i).</summary>
    public Tensor Combine(IReadOnlyList<Tensor> losses)
    {
        var values = LossList.Values(losses);
        LossList.RequirePositive(values, "the geometric loss strategy", "multiplies the losses (a zero loss has an infinite derivative)");
        var taskCount = values.Length;
        using var scope = NewDisposeScope();
        Tensor? logSum = null;
        foreach (var loss in losses)
        {
            var log = LossList.Scalar(loss).log();
            logSum = logSum is null ? log : logSum + log;
        }
        var objective = (logSum! / taskCount).exp();
        var geometricMean = Math.Exp(values.Sum(Math.Log) / taskCount);
        _lastWeights = [.. values.Select(v => geometricMean / (taskCount * v))];
        return scope.MoveToOuter(objective);
    }
}
