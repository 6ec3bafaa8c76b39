using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// The plain sum of the task gradients, Σ_i g_i: what one backward of L_1 + … + L_T gives the shared
/// parameters. The baseline every surgery is compared with.
/// </summary>
public sealed class Sum : GramianWeighting
{
    /// <summary>The update, without computing the Gramian the weights do not need.</summary>
    public override Tensor Aggregate(Tensor jacobian)
    {
        Jacobian.Validate(jacobian);
        return Jacobian.Combine(jacobian, Ones((int)jacobian.shape[0]));
    }

    /// <summary>All ones.</summary>
    protected override double[] ComputeWeights(GramianContext context) => Ones(context.Gramian.TaskCount);

    private static double[] Ones(int taskCount) => Enumerable.Repeat(1.0, taskCount).ToArray();
}
