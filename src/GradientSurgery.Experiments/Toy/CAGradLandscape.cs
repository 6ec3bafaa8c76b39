using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Toy;

/// <summary>
/// The two-task toy of the CAGrad paper's code (Liu et al., NeurIPS 2021), also used by Nash-MTL and FAMO:
/// f1 = log(max(|0.5(−x1−7) − tanh(−x2)|, 5e-6)) + 6, f2 = log(max(|0.5(−x1+3) + tanh(−x2) + 2|, 5e-6)) + 6,
/// c1 = max(tanh(0.5 x2), 0), c2 = max(tanh(−0.5 x2), 0),
/// f1_sq = ((−x1+7)² + 0.1(−x2−8)²)/10 − 20, f2_sq = ((−x1−7)² + 0.1(−x2−8)²)/10 − 20,
/// L1 = c1 f1 + c2 f1_sq, L2 = c1 f2 + c2 f2_sq; five starts; Pareto set near x2 = −8.3552, x1 ∈ [−7, 7].
/// </summary>
public sealed class CAGradLandscape : IToyLandscape
{
    private const double Floor = 5e-6;

    /// <inheritdoc />
    public string Name => "cagrad";

    /// <inheritdoc />
    public IReadOnlyList<(double X, double Y)> DefaultStarts { get; } = [(-8.5, 7.5), (-8.5, -5), (0, 0), (9, 9), (10, -8)];

    /// <inheritdoc />
    public int DefaultSteps => 100_000;

    /// <inheritdoc />
    public (double XMin, double XMax, double YMin, double YMax) Bounds => (-10, 10, -10, 10);

    /// <inheritdoc />
    public (double L1, double L2) Losses(double x, double y)
    {
        var t = Terms(x, y);
        return (t.C1 * t.F1 + t.C2 * t.F1Sq, t.C1 * t.F2 + t.C2 * t.F2Sq);
    }

    /// <inheritdoc />
    public void Gradients(double x, double y, double[,] jacobian)
    {
        var t = Terms(x, y);
        // tanh(−x2) = −tanh(x2), so u1 = 0.5(−x1−7) + tanh x2 and u2 = 0.5(−x1+3) − tanh x2 + 2.
        var sech2 = 1 - Math.Tanh(y) * Math.Tanh(y);
        var a1 = Math.Abs(t.U1) > Floor ? 1 / t.U1 : 0.0;
        var a2 = Math.Abs(t.U2) > Floor ? 1 / t.U2 : 0.0;
        double df1dx = -0.5 * a1, df1dy = sech2 * a1;
        double df2dx = -0.5 * a2, df2dy = -sech2 * a2;
        double dsqdy = 0.2 * (y + 8) / 10;
        double df1sqdx = 2 * (x - 7) / 10, df2sqdx = 2 * (x + 7) / 10;
        // c1 = max(tanh(x2/2), 0): derivative ½ sech²(x2/2) where tanh ≥ 0; c2 likewise with the sign flipped. At
        // x2 = 0 both pass the gradient, as torch.clamp does in the reference code: otherwise the start (0, 0) would be
        // a stationary point that no method leaves.
        var halfSech2 = 0.5 * (1 - Math.Tanh(0.5 * y) * Math.Tanh(0.5 * y));
        var dc1 = Math.Tanh(0.5 * y) >= 0 ? halfSech2 : 0.0;
        var dc2 = Math.Tanh(-0.5 * y) >= 0 ? -halfSech2 : 0.0;
        jacobian[0, 0] = t.C1 * df1dx + t.C2 * df1sqdx;
        jacobian[0, 1] = dc1 * t.F1 + t.C1 * df1dy + dc2 * t.F1Sq + t.C2 * dsqdy;
        jacobian[1, 0] = t.C1 * df2dx + t.C2 * df2sqdx;
        jacobian[1, 1] = dc1 * t.F2 + t.C1 * df2dy + dc2 * t.F2Sq + t.C2 * dsqdy;
    }

    /// <inheritdoc />
    /// <remarks>clamp_min is the max against the constant, with the same zero gradient where the constant wins.</remarks>
    public (Tensor L1, Tensor L2) Losses(Tensor theta)
    {
        ArgumentNullException.ThrowIfNull(theta);
        var (x, y) = (theta[0], theta[1]);
        var tanh = (-y).tanh();
        var f1 = ((-x - 7) * 0.5 - tanh).abs().clamp_min(Floor).log() + 6;
        var f2 = ((-x + 3) * 0.5 + tanh + 2).abs().clamp_min(Floor).log() + 6;
        var c1 = (y * 0.5).tanh().clamp_min(0.0);
        var c2 = (y * -0.5).tanh().clamp_min(0.0);
        var squared = (-y - 8).square() * 0.1;
        var f1Sq = ((-x + 7).square() + squared) / 10 - 20;
        var f2Sq = ((-x - 7).square() + squared) / 10 - 20;
        return (c1 * f1 + c2 * f1Sq, c1 * f2 + c2 * f2Sq);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Only one of c1, c2 is non-zero and both are below 1, so L_i &gt; min(log(5e-6) + 6, −20) = −20. FAMO's official
    /// toy code, on a variant whose first loss is scaled by s, uses min_losses (−21 s, −21); with s = 1, as here,
    /// that is b = −21.
    /// </remarks>
    public (double L1, double L2) LossLowerBounds => (-21, -21);

    private readonly record struct TermValues(double U1, double U2, double F1, double F2, double C1, double C2, double F1Sq, double F2Sq);

    private static TermValues Terms(double x, double y)
    {
        var u1 = 0.5 * (-x - 7) - Math.Tanh(-y);
        var u2 = 0.5 * (-x + 3) + Math.Tanh(-y) + 2;
        var f1 = Math.Log(Math.Max(Math.Abs(u1), Floor)) + 6;
        var f2 = Math.Log(Math.Max(Math.Abs(u2), Floor)) + 6;
        var c1 = Math.Max(Math.Tanh(0.5 * y), 0);
        var c2 = Math.Max(Math.Tanh(-0.5 * y), 0);
        var squared = 0.1 * (-y - 8) * (-y - 8);
        var f1Sq = ((-x + 7) * (-x + 7) + squared) / 10 - 20;
        var f2Sq = ((-x - 7) * (-x - 7) + squared) / 10 - 20;
        return new TermValues(u1, u2, f1, f2, c1, c2, f1Sq, f2Sq);
    }
}
