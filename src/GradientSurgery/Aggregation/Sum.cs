using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// The plain sum of the task gradients, Σ_i g_i: what one backward of L_1 + … + L_T gives the shared
/// parameters. The baseline every surgery is compared with.
/// </summary>
public sealed class Sum : IAggregator, IGramianWeighting
{
    /// <inheritdoc />
    public Tensor Aggregate(Tensor jacobian)
    {
        Jacobian.Validate(jacobian);
        return Jacobian.Combine(jacobian, Ones((int)jacobian.shape[0]));
    }

    /// <summary>All ones.</summary>
    public double[] Weights(double[,] gramian)
    {
        ArgumentNullException.ThrowIfNull(gramian);
        return Ones(gramian.GetLength(0));
    }

    private static double[] Ones(int taskCount) => Enumerable.Repeat(1.0, taskCount).ToArray();
}
