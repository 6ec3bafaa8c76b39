using GradientSurgery.Aggregation;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Weighting;

/// <summary>
/// What a loss weighting is built for: the training loop's task count, where and in which dtype its learnable
/// weights live, and (for GradNorm) the shared layer whose gradient norms it balances.
/// </summary>
/// <param name="TaskCount">The number of tasks T.</param>
/// <param name="Device">The device of the losses (and of any learnable weights); CPU when null.</param>
/// <param name="Dtype">The dtype of learnable weights (the model's dtype).</param>
/// <param name="SharedLayerWeight">
/// The weight W of the last shared layer, for GradNorm (Chen et al. 2018 balance ‖∇_W w_i L_i‖ on that layer); null
/// when the training loop has none to offer, in which case GradNorm cannot be created.
/// </param>
/// <param name="Likelihood">
/// The likelihood that matches the tasks' losses, for uncertainty weighting: <see cref="UncertaintyTaskKind.Classification"/>
/// for cross-entropy losses (Kendall et al., Eq. 10), <see cref="UncertaintyTaskKind.Regression"/> otherwise (Eq. 7). The
/// specification's <c>likelihood</c> argument overrides it.
/// </param>
public sealed record LossWeightingContext(
    int TaskCount,
    Device? Device = null,
    ScalarType Dtype = ScalarType.Float32,
    Parameter? SharedLayerWeight = null,
    UncertaintyTaskKind Likelihood = UncertaintyTaskKind.Regression);

/// <summary>One loss weighting the library offers, selectable by name (CLI <c>--method</c>/<c>--methods</c>, the toy, the demo).</summary>
/// <param name="Name">The lower-case name used on the command line; never an aggregator's name.</param>
/// <param name="DisplayName">The name used in tables and plots.</param>
/// <param name="Reference">The paper that defines it.</param>
/// <param name="Create">Builds the weighting for a training loop from the specification's arguments (which also carry the run's seed).</param>
public sealed record LossWeightingInfo(string Name, string DisplayName, string Reference, Func<LossWeightingContext, MethodArguments, ILossWeighting> Create);

/// <summary>
/// The registry of loss weightings, the counterpart of <see cref="Aggregators"/> for methods that turn the task
/// losses into one objective instead of aggregating the Jacobian. <see cref="Methods"/> resolves a name to
/// either kind.
/// </summary>
/// <remarks>
/// Defaults are the papers' (DWA's temperature 2) or, where a paper leaves the value to the user, those of the
/// authors' code: GradNorm's α = 1.5, FAMO's β = 0.025 and γ = 0.001, STCH's μ = 1 (the default of the authors'
/// multi-task code; the paper names no single best value). Each class's documentation says how a training loop
/// must call it; <see cref="Training.LossWeightingOptimizer"/> does so.
/// </remarks>
public static class LossWeightings
{
    /// <summary>Every loss weighting, in the order tables list them.</summary>
    public static IReadOnlyList<LossWeightingInfo> All { get; } =
    [
        new("uw", "UW", "Kendall, Gal and Cipolla, Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry and Semantics, CVPR 2018",
            (c, a) => new UncertaintyWeighting(
                Enumerable.Repeat(a.Enum("likelihood", c.Likelihood), c.TaskCount).ToArray(), a.Double("init", 0.0), c.Device, c.Dtype)),
        new("dwa", "DWA", "Liu, Johns and Davison, End-to-End Multi-Task Learning with Attention, CVPR 2019",
            (_, a) => new DynamicWeightAverage(a.Double("t", 2.0))),
        new("gradnorm", "GradNorm", "Chen et al., GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask Networks, ICML 2018",
            (c, a) => new GradNorm(
                c.SharedLayerWeight ?? throw new ArgumentException("GradNorm needs the weight of the last shared layer, and this training loop does not provide one."),
                c.TaskCount, a.Double("alpha", 1.5))),
        new("famo", "FAMO", "Liu, Feng, Stone and Liu, FAMO: Fast Adaptive Multitask Optimization, NeurIPS 2023",
            (_, a) => new FAMO(a.Double("lr", 0.025), a.Double("gamma", 1e-3), a.Enum("update", FamoLogitUpdate.Adam))),
        new("gls", "GLS", "Chennupati et al., MultiNet++: Multi-Stream Feature Aggregation and Geometric Loss Strategy for Multi-Task Learning, CVPR Workshops 2019",
            (_, _) => new GeometricLossStrategy()),
        new("stch", "STCH", "Lin et al., Smooth Tchebycheff Scalarization for Multi-Objective Optimization, ICML 2024",
            (_, a) => new SmoothTchebycheff(a.Double("mu", 1.0))),
    ];

    /// <summary>The registered names.</summary>
    public static IEnumerable<string> Names => All.Select(m => m.Name);

    /// <summary>Looks a loss weighting up by name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No loss weighting has that name; the message lists the valid names.</exception>
    public static LossWeightingInfo Find(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"Unknown loss weighting '{name}'. Known loss weightings: {string.Join(", ", Names)}.");
    }

    /// <summary>Splits a specification such as <c>famo:gamma=0.01</c> into its registered weighting and its arguments.</summary>
    /// <exception cref="ArgumentException">Unknown name or malformed specification.</exception>
    public static (LossWeightingInfo Info, MethodArguments Arguments) Parse(string specification, long seed)
    {
        var (name, values) = Methods.Split(specification);
        return (Find(name), new MethodArguments(seed, values));
    }

    /// <summary>
    /// Creates a loss weighting from a specification <c>name[:key=value[,key=value…]]</c>, e.g. <c>dwa</c> or
    /// <c>famo:gamma=0.01</c>, for the training loop described by <paramref name="context"/>.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// Unknown name, malformed specification, an argument the method does not take, a bad value, or a context the
    /// method cannot work with (GradNorm without a shared layer).
    /// </exception>
    public static ILossWeighting Create(string specification, long seed, LossWeightingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(context.TaskCount);
        var (info, arguments) = Parse(specification, seed);
        var weighting = info.Create(context, arguments);
        arguments.EnsureAllRead(info.Name);
        return weighting;
    }
}
