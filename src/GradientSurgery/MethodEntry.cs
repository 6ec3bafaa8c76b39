using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using GradientSurgery.Weighting;
using TorchSharp.Modules;

namespace GradientSurgery;

/// <summary>The two kinds of multi-task method. Callers rarely need it: <see cref="IMultiTaskStep"/> hides the difference.</summary>
public enum MethodKind
{
    /// <summary>
    /// An <see cref="IAggregator"/>: the per-task Jacobian of the shared parameters is combined into one update by
    /// the multi-task backward (T gradient passes per step).
    /// </summary>
    Aggregator,

    /// <summary>An <see cref="ILossWeighting"/>: the losses are combined into one objective that is back-propagated once.</summary>
    LossWeighting,
}

/// <summary>
/// One method of the <see cref="MethodCatalog"/>: its names, its paper and how to build it, as an aggregator or
/// a loss weighting and as a ready training step.
/// </summary>
public abstract class MethodEntry
{
    private protected MethodEntry(string name, string displayName, string reference, string[] aliases)
    {
        (Name, DisplayName, Reference, Aliases) = (name, displayName, reference, aliases);
    }

    /// <summary>The lower-case name used on the command line.</summary>
    public string Name { get; }

    /// <summary>Other names that select it (e.g. <c>ew</c> for <c>mean</c>).</summary>
    public IReadOnlyList<string> Aliases { get; }

    /// <summary>The name used in tables and plots.</summary>
    public string DisplayName { get; }

    /// <summary>The paper that defines it.</summary>
    public string Reference { get; }

    /// <summary>Aggregator or loss weighting.</summary>
    public abstract MethodKind Kind { get; }

    /// <summary>
    /// Whether the method is defined only for non-negative task losses (it takes their logarithm or ratio, or treats
    /// them as negative log-likelihoods). Such a method refuses a negative loss with an error at the step; callers
    /// whose losses can be negative (SAC's actor loss) can refuse the method up front.
    /// </summary>
    public bool NeedsNonNegativeLosses { get; internal init; }

    /// <summary>Whether <paramref name="name"/> (case-insensitive, trimmed) is this method's name or one of its aliases.</summary>
    public bool IsCalled(string name) =>
        string.Equals(Name, name.Trim(), StringComparison.OrdinalIgnoreCase) ||
        Aliases.Any(a => string.Equals(a, name.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>Builds the method itself (an <see cref="IAggregator"/> or an <see cref="ILossWeighting"/>).</summary>
    internal abstract object Create(MethodArguments arguments, LossWeightingContext? context);

    /// <summary>Builds the method and the optimizer that applies it, as one training step.</summary>
    internal abstract IMultiTaskStep CreateStep(MethodArguments arguments, MethodSetup setup);
}

/// <summary>A method that aggregates the task Jacobian of the shared parameters.</summary>
internal sealed class AggregatorEntry(
    string name, string displayName, string reference, Func<MethodArguments, IAggregator> create, params string[] aliases)
    : MethodEntry(name, displayName, reference, aliases)
{
    public override MethodKind Kind => MethodKind.Aggregator;

    internal override object Create(MethodArguments arguments, LossWeightingContext? context) => create(arguments);

    internal override IMultiTaskStep CreateStep(MethodArguments arguments, MethodSetup setup)
    {
        var aggregator = create(arguments);
        return new AggregationStep(setup.CreateOptimizer(setup.Parameters), aggregator, setup.SharedParameters, setup.TaskParameters);
    }
}

/// <summary>A method that weights the task losses into one objective.</summary>
internal sealed class LossWeightingEntry(
    string name, string displayName, string reference, Func<MethodArguments, LossWeightingContext, ILossWeighting> create, params string[] aliases)
    : MethodEntry(name, displayName, reference, aliases)
{
    public override MethodKind Kind => MethodKind.LossWeighting;

    internal override object Create(MethodArguments arguments, LossWeightingContext? context)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(context.TaskCount);
        return create(arguments, context);
    }

    internal override IMultiTaskStep CreateStep(MethodArguments arguments, MethodSetup setup)
    {
        var weighting = (ILossWeighting)Create(arguments, setup.LossWeightingContext());
        IEnumerable<Parameter> learnable = (weighting as ILearnableLossWeighting)?.parameters() ?? [];
        return new LossWeightingStep(setup.CreateOptimizer(setup.Parameters.Concat(learnable)), weighting, setup.TaskParameters);
    }
}
