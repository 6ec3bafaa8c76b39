using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// Equal weighting (EW): the mean of the task gradients, (1/T) Σ_i g_i, i.e. one backward of the average loss.
/// </summary>
public sealed class Mean : GramianWeighting
{
    /// <summary>The update, without computing the Gramian the weights do not need.</summary>
    public override Tensor Aggregate(Tensor jacobian)
    {
        Jacobian.Validate(jacobian);
        return Jacobian.Combine(jacobian, Equal((int)jacobian.shape[0]));
    }

    /// <summary>All 1/T.</summary>
    protected override double[] ComputeWeights(GramianContext context) => Equal(context.Gramian.TaskCount);

    private static double[] Equal(int taskCount) => Enumerable.Repeat(1.0 / taskCount, taskCount).ToArray();
}
