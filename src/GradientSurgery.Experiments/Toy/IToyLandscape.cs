using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Toy;

/// <summary>A two-task objective over θ ∈ ℝ² with closed-form float64 gradients.</summary>
public interface IToyLandscape
{
    /// <summary>The name used on the command line (<c>--landscape</c>).</summary>
    string Name { get; }

    /// <summary>The start points the figure uses by default.</summary>
    IReadOnlyList<(double X, double Y)> DefaultStarts { get; }

    /// <summary>The default number of Adam steps.</summary>
    int DefaultSteps { get; }

    /// <summary>The region shown in the figure.</summary>
    (double XMin, double XMax, double YMin, double YMax) Bounds { get; }

    /// <summary>L1(θ) and L2(θ).</summary>
    (double L1, double L2) Losses(double x, double y);

    /// <summary>Writes ∇L1 into row 0 and ∇L2 into row 1 of the 2×2 <paramref name="jacobian"/>.</summary>
    void Gradients(double x, double y, double[,] jacobian);

    /// <summary>
    /// L1(θ) and L2(θ) as 0-dimensional tensors of <paramref name="theta"/> (a 2-element float64 tensor), the same
    /// functions as <see cref="Losses(double, double)"/> built from differentiable operations, for the loss
    /// weightings, which need the losses' graph rather than their gradients.
    /// </summary>
    (Tensor L1, Tensor L2) Losses(Tensor theta);

    /// <summary>
    /// Constants b_i strictly below every value L_i takes (its infimum minus 1). The toy's losses are logarithms and
    /// go below zero, while most loss weightings need positive losses, so the weightings receive L_i − b_i.
    /// </summary>
    (double L1, double L2) LossLowerBounds { get; }
}
