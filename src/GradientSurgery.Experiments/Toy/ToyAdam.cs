namespace GradientSurgery.Experiments.Toy;

/// <summary>
/// Adam on θ ∈ ℝ² in float64, step for step the update of <c>torch.optim.Adam</c> (defaults β = (0.9, 0.999),
/// ε = 1e-8, no weight decay). Hand-written because the toy runs 500,000 steps and TorchSharp's per-operation
/// overhead on two-element tensors would cost minutes for what is a handful of floating-point operations.
/// </summary>
public sealed class ToyAdam(double learningRate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
{
    private readonly double[] _m = new double[2];
    private readonly double[] _v = new double[2];
    private long _step;

    /// <summary>Applies one update with gradient <paramref name="gradient"/> to <paramref name="theta"/>.</summary>
    public void Step(double[] theta, ReadOnlySpan<double> gradient)
    {
        _step++;
        var correction1 = 1 - Math.Pow(beta1, _step);
        var correction2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, _step));
        var stepSize = learningRate / correction1;
        for (var k = 0; k < 2; k++)
        {
            _m[k] = beta1 * _m[k] + (1 - beta1) * gradient[k];
            _v[k] = beta2 * _v[k] + (1 - beta2) * gradient[k] * gradient[k];
            theta[k] -= stepSize * _m[k] / (Math.Sqrt(_v[k]) / correction2Sqrt + epsilon);
        }
    }
}
