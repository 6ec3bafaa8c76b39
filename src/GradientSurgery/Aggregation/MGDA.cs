using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// MGDA, the multiple-gradient descent algorithm (Désidéri, "Multiple-gradient descent algorithm (MGDA) for
/// multiobjective optimization", Comptes Rendus Mathématique 350, 2012) as used for multi-task learning by
/// Sener and Koltun ("Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018): the update is the
/// minimum-norm point of the convex hull of the task gradients, d = Σ α_i g_i with
/// α = argmin { ‖Σ α_i g_i‖² : α ≥ 0, Σ α_i = 1 } (Sener and Koltun, Eq. 3). Either d = 0 (the point is
/// Pareto-stationary) or d · g_j ≥ ‖d‖² &gt; 0 for every task, so −d decreases every loss.
/// </summary>
/// <remarks>
/// <para>
/// Computed from the Gramian only: α is the exact solution of Eq. 3, found by an active-set method (see
/// <see cref="MinNormWeights"/>), and satisfies the KKT conditions Gα − λ1 ≥ 0, with equality where α_i &gt; 0,
/// α ≥ 0, Σα = 1 (λ = αᵀGα) to a relative residual of at most <see cref="Tolerance"/>: for every task,
/// |(g_j − d) · d| (or its negative part where α_j = 0) is at most 10⁻¹⁰ (‖g_j‖ + Σ_k α_k‖g_k‖) Σ_k α_k‖g_k‖.
/// (The guarantee assumes G is positive semi-definite; a Gramian computed in float32 can be indefinite at the
/// 10⁻⁷ level, and the residual is then of that order.) For two tasks this is the closed form of their
/// Algorithm 1, α_1 = clip((g_2 − g_1)·g_2 / ‖g_1 − g_2‖², 0, 1).
/// If every gradient is zero every α is optimal and the uniform weights are returned (the update is zero).
/// </para>
/// <para>
/// Gradient normalisation (<see cref="GradientNormalization"/>) is not part of the paper's algorithm; the
/// authors' code offers it as an option ("l2", "loss", "loss+"; its sample configuration uses "loss+", and
/// its training script notes that normalisation is "not included in the paper"). Here it is off by default,
/// as in the paper. As in that code, the gradients are divided by their normalisers only to compute α, and the update is
/// Σ α_i g_i with the original gradients. A normaliser of zero (a zero gradient, or a zero loss) makes that
/// task's normalised gradient zero, so α puts all its weight on it and the update is that task's gradient.
/// </para>
/// <para>
/// Differences from public implementations, where we follow the paper: the authors' code and LibMTL run at
/// most 250 Frank–Wolfe / projected-gradient steps (Algorithm 2) stopping on a change below 10⁻⁵, so their α is
/// approximate, and their two-task rule returns 0.999 / 0.001 instead of 1 / 0 when one gradient dominates;
/// LibMTL, in its default (non-representation) mode, also applies α to the normalised gradients. MGDA-UB
/// (the same paper's upper-bound approximation) is this weighting applied to the Gramian of the gradients
/// with respect to the shared representation; <see cref="MinNormWeights"/> serves it.
/// </para>
/// </remarks>
public sealed class MGDA : GramianWeighting
{
    /// <summary>The relative KKT tolerance of the weights (see the remarks).</summary>
    public const double Tolerance = MinimumNormPoint.Tolerance;

    /// <summary>How the gradients are rescaled before the min-norm weights are computed (Sener and Koltun's code, not their paper).</summary>
    public enum GradientNormalization
    {
        /// <summary>No rescaling: the paper's algorithm.</summary>
        None,

        /// <summary>g_i / ‖g_i‖ ("l2").</summary>
        L2,

        /// <summary>g_i / L_i, with L_i the task's loss value ("loss"); needs the losses.</summary>
        Loss,

        /// <summary>g_i / (L_i ‖g_i‖) ("loss+"); needs the losses.</summary>
        LossPlus,
    }

    /// <summary>Creates the aggregator.</summary>
    /// <param name="normalization">Gradient normalisation used to compute the weights; <see cref="GradientNormalization.None"/> (the paper) by default.</param>
    public MGDA(GradientNormalization normalization = GradientNormalization.None)
    {
        if (!Enum.IsDefined(normalization))
        {
            throw new ArgumentOutOfRangeException(nameof(normalization), normalization, "Unknown gradient normalisation.");
        }
        Normalization = normalization;
    }

    /// <summary>The gradient normalisation used to compute the weights.</summary>
    public GradientNormalization Normalization { get; }

    /// <summary>Whether the normalisation needs the task losses (<see cref="GradientNormalization.Loss"/>, <see cref="GradientNormalization.LossPlus"/>).</summary>
    public bool NeedsLosses => Normalization is GradientNormalization.Loss or GradientNormalization.LossPlus;

    /// <summary>The min-norm update, with the task losses available for loss-based normalisation.</summary>
    /// <param name="jacobian">The T×P Jacobian.</param>
    /// <param name="losses">The T loss values (finite, ≥ 0); ignored unless <see cref="NeedsLosses"/>.</param>
    public Tensor Aggregate(Tensor jacobian, IReadOnlyList<double> losses)
    {
        Jacobian.Validate(jacobian);
        return Jacobian.Combine(jacobian, Weights(Jacobian.Gramian(jacobian), losses));
    }

    /// <summary>The weights α (on the simplex; update = αᵀJ), with the task losses for loss-based normalisation.</summary>
    /// <param name="gramian">The T×T Gramian of the task gradients.</param>
    /// <param name="losses">The T loss values (finite, ≥ 0); ignored, and may be null, unless <see cref="NeedsLosses"/>.</param>
    public double[] Weights(double[,] gramian, IReadOnlyList<double>? losses)
    {
        if (NeedsLosses && losses is null)
        {
            throw new ArgumentNullException(nameof(losses), $"MGDA normalisation {Normalization} divides by the task losses, so they are required.");
        }
        return Weights(new GramianContext(CheckedGramian.From(gramian), losses));
    }

    /// <summary>The weights α (on the simplex; update = αᵀJ); the losses are read only by the loss-based normalisations.</summary>
    /// <exception cref="InvalidOperationException">The normalisation needs the losses and the context has none.</exception>
    protected override double[] ComputeWeights(GramianContext context)
    {
        var g = context.Gramian.Values;
        var taskCount = g.GetLength(0);
        var losses = context.Losses;
        if (NeedsLosses)
        {
            ValidateLosses(losses ?? throw LossesRequired(), taskCount);
        }
        if (Normalization == GradientNormalization.None)
        {
            return MinimumNormPoint.Weights(g);
        }
        var normalisers = new double[taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            normalisers[i] = Normalization switch
            {
                GradientNormalization.L2 => Math.Sqrt(g[i, i]),
                GradientNormalization.Loss => losses![i],
                _ => losses![i] * Math.Sqrt(g[i, i]),
            };
        }
        var normalised = new double[taskCount, taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            for (var j = 0; j < taskCount; j++)
            {
                // Dividing entry-wise keeps the row of a huge gradient and the row of a tiny one equally exact.
                normalised[i, j] = normalisers[i] == 0 || normalisers[j] == 0 ? 0 : g[i, j] / normalisers[i] / normalisers[j];
            }
        }
        return MinimumNormPoint.Weights(normalised);
    }

    /// <summary>
    /// The min-norm weights α = argmin { αᵀGα : α ≥ 0, Σα = 1 } of a Gramian, with no normalisation: the MGDA
    /// weights, and the MGDA-UB weights when G is the Gramian of the gradients with respect to the shared
    /// representation. Meets the KKT conditions to <see cref="Tolerance"/>; uniform if G = 0.
    /// </summary>
    /// <exception cref="ArgumentException">G is not square, not finite, or cannot be a Gramian.</exception>
    public static double[] MinNormWeights(double[,] gramian) => MinimumNormPoint.Weights(CheckedGramian.From(gramian).Values);

    /// <summary>
    /// The relative KKT residual of weights α for the min-norm problem (see the remarks): 0 for an exact
    /// solution, +∞ for weights off the non-negative orthant.
    /// </summary>
    public static double KktResidual(double[,] gramian, IReadOnlyList<double> weights)
    {
        var g = CheckedGramian.From(gramian).Values;
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Count != g.GetLength(0))
        {
            throw new ArgumentException($"Expected {g.GetLength(0)} weights (one per task), got {weights.Count}.", nameof(weights));
        }
        return MinimumNormPoint.RelativeKktResidual(g, weights);
    }

    private InvalidOperationException LossesRequired() =>
        new($"MGDA normalisation {Normalization} divides by the task losses; call the overload that takes the losses.");

    private static void ValidateLosses(IReadOnlyList<double> losses, int taskCount)
    {
        if (losses.Count != taskCount)
        {
            throw new ArgumentException($"Expected {taskCount} losses (one per task), got {losses.Count}.", nameof(losses));
        }
        for (var i = 0; i < taskCount; i++)
        {
            if (!double.IsFinite(losses[i]) || losses[i] < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(losses), losses[i],
                    $"Loss {i} is {losses[i]}; loss-based normalisation needs finite, non-negative losses.");
            }
        }
    }
}
