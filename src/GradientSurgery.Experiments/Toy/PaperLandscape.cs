using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Toy;

/// <summary>
/// The landscape of Figure 1 / Appendix D of the PCGrad paper (Yu et al., NeurIPS 2020):
/// L1 = 20 log(max(|0.5 θ1 + tanh θ2|, 5e-6)), L2 = 25 log(max(|0.5 θ1 − tanh θ2 + 2|, 5e-6)),
/// started at (0.5, −3) and optimised with Adam (lr 0.001) for 500,000 steps.
/// </summary>
/// <remarks>
/// Where the max picks the constant the gradient is 0, as autograd gives for torch.max against a constant.
/// </remarks>
public sealed class PaperLandscape : IToyLandscape
{
    private const double Floor = 5e-6;

    /// <inheritdoc />
    public string Name => "paper";

    /// <inheritdoc />
    public IReadOnlyList<(double X, double Y)> DefaultStarts { get; } = [(0.5, -3.0)];

    /// <inheritdoc />
    public int DefaultSteps => 500_000;

    /// <inheritdoc />
    public (double XMin, double XMax, double YMin, double YMax) Bounds => (-10, 10, -10, 10);

    /// <inheritdoc />
    public (double L1, double L2) Losses(double x, double y)
    {
        var (u1, u2) = Arguments(x, y);
        return (20 * Math.Log(Math.Max(Math.Abs(u1), Floor)), 25 * Math.Log(Math.Max(Math.Abs(u2), Floor)));
    }

    /// <inheritdoc />
    public void Gradients(double x, double y, double[,] jacobian)
    {
        var (u1, u2) = Arguments(x, y);
        var tanh = Math.Tanh(y);
        var sech2 = 1 - tanh * tanh;
        // d/dθ 20 log|u| = 20 u'/u (the sign of u cancels).
        var a1 = Math.Abs(u1) > Floor ? 20 / u1 : 0.0;
        var a2 = Math.Abs(u2) > Floor ? 25 / u2 : 0.0;
        jacobian[0, 0] = a1 * 0.5;
        jacobian[0, 1] = a1 * sech2;
        jacobian[1, 0] = a2 * 0.5;
        jacobian[1, 1] = -a2 * sech2;
    }

    /// <inheritdoc />
    /// <remarks>clamp_min is the max against the constant, with the same zero gradient where the constant wins.</remarks>
    public (Tensor L1, Tensor L2) Losses(Tensor theta)
    {
        ArgumentNullException.ThrowIfNull(theta);
        var tanh = theta[1].tanh();
        var u1 = theta[0] * 0.5 + tanh;
        var u2 = theta[0] * 0.5 - tanh + 2;
        return (u1.abs().clamp_min(Floor).log() * 20, u2.abs().clamp_min(Floor).log() * 25);
    }

    /// <inheritdoc />
    /// <remarks>The infima are 20 log(5e-6) ≈ −244.1 and 25 log(5e-6) ≈ −305.2, where the floor is reached.</remarks>
    public (double L1, double L2) LossLowerBounds => (20 * Math.Log(Floor) - 1, 25 * Math.Log(Floor) - 1);

    private static (double U1, double U2) Arguments(double x, double y) => (0.5 * x + Math.Tanh(y), 0.5 * x - Math.Tanh(y) + 2);
}
