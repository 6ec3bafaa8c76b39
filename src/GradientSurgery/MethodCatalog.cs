using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using GradientSurgery.Weighting;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery;

/// <summary>
/// Every method the library offers, aggregators and loss weightings in one list: the command line, the toy, the
/// demo and the trainers enumerate it, so a method added here (one line) appears everywhere.
/// </summary>
/// <remarks>
/// <para>
/// A specification is <c>name[:key=value[,key=value…]]</c>, e.g. <c>pcgrad</c>, <c>cagrad:c=0.4</c> or
/// <c>famo:decay=0.01</c>. Names and keys are case-insensitive; a key is the name of the constructor parameter it
/// sets, and some keys also answer to the paper's symbol or an older name (<see cref="Parameters"/> lists them).
/// </para>
/// <para>
/// Defaults are the papers' (DWA's temperature 2) or, where a paper leaves the value to the user, those of the
/// authors' code: GradNorm's α = 1.5, FAMO's β = 0.025 and γ = 0.001, STCH's μ = 1 (the default of the authors'
/// multi-task code; the paper names no single best value).
/// </para>
/// </remarks>
public static class MethodCatalog
{
    /// <summary>Every method, aggregators first, in the order tables list them.</summary>
    public static IReadOnlyList<MethodEntry> All { get; } =
    [
        new AggregatorEntry("sum", "Sum", "Σ_i g_i: one backward of the summed loss", _ => new Sum()),
        new AggregatorEntry("mean", "Mean (EW)", "equal weighting: one backward of the mean loss", _ => new Mean(), "ew"),
        new AggregatorEntry("pcgrad", "PCGrad", "Yu et al., Gradient Surgery for Multi-Task Learning, NeurIPS 2020",
            a => new PCGrad(a.Enum("reduction", Reduction.Sum), a.Seed)),
        new AggregatorEntry("mgda", "MGDA", "Sener & Koltun, Multi-Task Learning as Multi-Objective Optimization, NeurIPS 2018 (MGDA: Désidéri 2012)",
            a => new MGDA(a.Enum("normalization", MGDA.GradientNormalization.None))),
        new AggregatorEntry("mgdaub", "MGDA-UB", "Sener & Koltun, Multi-Task Learning as Multi-Objective Optimization, NeurIPS 2018, Section 3.3",
            _ => new MGDAUB()),
        new AggregatorEntry("cagrad", "CAGrad", "Liu et al., Conflict-Averse Gradient Descent for Multi-task Learning, NeurIPS 2021",
            a => new CAGrad(a.Double("c", 0.5), a.Bool("rescale", false))),
        new AggregatorEntry("imtlg", "IMTL-G", "Liu et al., Towards Impartial Multi-task Learning, ICLR 2021", _ => new IMTLG()),
        new AggregatorEntry("nashmtl", "Nash-MTL", "Navon et al., Multi-Task Learning as a Bargaining Game, ICML 2022",
            a => new NashMTL(a.Int("updateWeightsEvery", 1, "update_weights_every"))),
        new AggregatorEntry("fairgrad", "FairGrad", "Ban and Ji, Fair Resource Allocation in Multi-Task Learning, ICML 2024",
            a => new FairGrad(a.Double("alpha", 1.0))),
        new AggregatorEntry("upgrad", "UPGrad", "Quinton & Rey, Jacobian Descent for Multi-Objective Optimization, arXiv 2406.16232, 2024", _ => new UPGrad()),
        new AggregatorEntry("dualproj", "DualProj", "Quinton & Rey, Jacobian Descent for Multi-Objective Optimization, arXiv 2406.16232, 2024", _ => new DualProj()),
        new AggregatorEntry("alignedmtl", "Aligned-MTL", "Senushkin et al., Independent Component Alignment for Multi-Task Learning, CVPR 2023",
            a => new AlignedMTL(rankEpsilon: a.Double("rankEpsilon", AlignedMTL.Float32Epsilon, "eps"))),
        new AggregatorEntry("gradvac", "GradVac", "Wang et al., Gradient Vaccine: Investigating and Improving Multi-task Optimization in Massively Multilingual Models, ICLR 2021",
            a => new GradVac(a.Double("beta", 0.01), a.Double("initialTarget", 0.0, "target"), a.Enum("reduction", Reduction.Sum), a.Seed)),
        new AggregatorEntry("graddrop", "GradDrop", "Chen et al., Just Pick a Sign: Optimizing Deep Multitask Models with Gradient Sign Dropout, NeurIPS 2020",
            a => new GradDrop(a.Double("leak", 0.0), a.Seed)),
        new AggregatorEntry("config", "ConFIG", "Liu, Chu and Thuerey, ConFIG: Towards Conflict-free Training of Physics Informed Neural Networks, ICLR 2025",
            a => new ConFIG(a.Double("relativeTolerance", ConFIG.DefaultRelativeTolerance, "rtol"))),
        new AggregatorEntry("rlw", "RLW", "Lin et al., Reasonable Effectiveness of Random Weighting: A Litmus Test for Multi-Task Learning, TMLR 2022",
            a => new RLW(a.Seed)),
        new AggregatorEntry("dbmtl", "DB-MTL", "Lin et al., Dual-Balancing for Multi-Task Learning, arXiv 2308.12029, 2023",
            a => new DBMTL(a.Double("beta", 0.9))) { NeedsNonNegativeLosses = true },
        new LossWeightingEntry("uw", "UW", "Kendall, Gal and Cipolla, Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry and Semantics, CVPR 2018",
            (a, c) => new UncertaintyWeighting(
                c.TaskCount, a.EnumDefaultedBy("likelihood", c.Likelihood, "the training loop's"), a.Double("initialLogVariance", 0.0, "init"), c.Device, c.Dtype))
        {
            // L / σ² + log σ: with a negative L the optimal σ is 0 and the weight unbounded.
            NeedsNonNegativeLosses = true,
        },
        new LossWeightingEntry("dwa", "DWA", "Liu, Johns and Davison, End-to-End Multi-Task Learning with Attention, CVPR 2019",
            (a, _) => new DynamicWeightAverage(a.Double("temperature", 2.0, "t"))) { NeedsNonNegativeLosses = true },
        new LossWeightingEntry("gradnorm", "GradNorm", "Chen et al., GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask Networks, ICML 2018",
            (a, c) => new GradNorm(
                c.SharedLayerWeight ?? throw new ArgumentException("GradNorm needs the weight of the last shared layer, and this training loop does not provide one."),
                c.TaskCount, a.Double("alpha", 1.5))) { NeedsNonNegativeLosses = true },
        new LossWeightingEntry("famo", "FAMO", "Liu, Feng, Stone and Liu, FAMO: Fast Adaptive Multitask Optimization, NeurIPS 2023",
            (a, _) => new FAMO(a.Double("logitLearningRate", 0.025, "lr"), a.Double("decay", 1e-3, "gamma"), a.Enum("update", FamoLogitUpdate.Adam))) { NeedsNonNegativeLosses = true },
        new LossWeightingEntry("gls", "GLS", "Chennupati et al., MultiNet++: Multi-Stream Feature Aggregation and Geometric Loss Strategy for Multi-Task Learning, CVPR Workshops 2019",
            (_, _) => new GeometricLossStrategy()) { NeedsNonNegativeLosses = true },
        new LossWeightingEntry("stch", "STCH", "Lin et al., Smooth Tchebycheff Scalarization for Multi-Objective Optimization, ICML 2024",
            (a, _) => new SmoothTchebycheff(a.Double("mu", 1.0))),
    ];

    /// <summary>Every method's name, aggregators first.</summary>
    public static IEnumerable<string> Names => All.Select(m => m.Name);

    /// <summary>The names of the methods of one kind.</summary>
    public static IEnumerable<string> NamesOf(MethodKind kind) => All.Where(m => m.Kind == kind).Select(m => m.Name);

    /// <summary>Looks a method up by name or alias (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No method has that name; the message lists every valid name, by kind.</exception>
    public static MethodEntry Find(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var matches = All.Where(m => m.IsCalled(name)).ToArray();
        return matches.Length switch
        {
            1 => matches[0],
            0 => throw new ArgumentException(
                $"Unknown method '{name.Trim()}'. Known methods: aggregators {string.Join(", ", NamesOf(MethodKind.Aggregator))}; loss weightings {string.Join(", ", NamesOf(MethodKind.LossWeighting))}."),
            // Two entries answering to one name is a programming error that tests catch; refuse rather than guess.
            _ => throw new InvalidOperationException($"The method name '{name.Trim()}' is registered more than once."),
        };
    }

    /// <summary>The method a specification <c>name[:key=value,…]</c> names (its arguments are not checked).</summary>
    /// <exception cref="ArgumentException">Unknown name or malformed specification.</exception>
    public static MethodEntry Resolve(string specification) => Find(Split(specification).Name);

    /// <summary>
    /// The specification with the method's alias replaced by its name (<c>ew</c> → <c>mean</c>, <c>EW:x=1</c> →
    /// <c>mean:x=1</c>), so that runs record one name per method; the arguments are kept as given.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name or malformed specification.</exception>
    public static string Canonical(string specification)
    {
        var name = Resolve(specification).Name;
        var colon = specification.IndexOf(':');
        return colon < 0 ? name : name + specification[colon..];
    }

    /// <summary>
    /// Checks a whole specification without training anything: the name, the syntax, that every argument is one
    /// the method takes, and the values (by creating the method once, for two tasks on the CPU, and discarding it).
    /// </summary>
    /// <returns>The method the specification names.</returns>
    /// <exception cref="ArgumentException">The first problem found, in a one-line message.</exception>
    public static MethodEntry Validate(string specification, long seed)
    {
        var (entry, arguments) = Parse(specification, seed);
        CreateAndDiscard(entry, arguments);
        return entry;
    }

    /// <summary>The arguments a method takes, with their aliases and defaults, in the order its factory reads them.</summary>
    public static IReadOnlyList<MethodParameter> Parameters(MethodEntry method)
    {
        ArgumentNullException.ThrowIfNull(method);
        var arguments = new MethodArguments(0);
        CreateAndDiscard(method, arguments);
        return arguments.Declared;
    }

    /// <summary>
    /// Creates an aggregator from a specification, e.g. <c>pcgrad</c> or <c>pcgrad:reduction=mean</c>.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name, a loss weighting's name, malformed specification, or an argument the method does not take.</exception>
    public static IAggregator CreateAggregator(string specification, long seed)
    {
        var (entry, arguments) = Parse(specification, seed);
        if (entry is not AggregatorEntry)
        {
            throw new ArgumentException($"'{entry.Name}' is a loss weighting, not an aggregator; build it with {nameof(CreateLossWeighting)} or {nameof(CreateStep)}.");
        }
        return (IAggregator)Checked(entry, arguments, context: null);
    }

    /// <summary>
    /// Creates a loss weighting from a specification, e.g. <c>dwa</c> or <c>famo:decay=0.01</c>, for the training
    /// loop described by <paramref name="context"/>.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// Unknown name, an aggregator's name, malformed specification, an argument the method does not take, a bad
    /// value, or a context the method cannot work with (GradNorm without a shared layer).
    /// </exception>
    public static ILossWeighting CreateLossWeighting(string specification, long seed, LossWeightingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var (entry, arguments) = Parse(specification, seed);
        if (entry is not LossWeightingEntry)
        {
            throw new ArgumentException($"'{entry.Name}' is an aggregator, not a loss weighting; build it with {nameof(CreateAggregator)} or {nameof(CreateStep)}.");
        }
        return (ILossWeighting)Checked(entry, arguments, context);
    }

    /// <summary>
    /// Builds the training step of any method for a model: the method, the optimizer over the model's parameters (and
    /// a loss weighting's learnable weights), and the step that applies them. Callers need not know the method's kind.
    /// </summary>
    /// <exception cref="ArgumentException">A bad specification, or a model the method cannot work with.</exception>
    public static IMultiTaskStep CreateStep(string specification, long seed, MethodSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var (entry, arguments) = Parse(specification, seed);
        var step = entry.CreateStep(arguments, setup);
        try
        {
            arguments.EnsureAllRead(entry.Name);
        }
        catch
        {
            step.Dispose();
            throw;
        }
        return step;
    }

    private static object Checked(MethodEntry entry, MethodArguments arguments, LossWeightingContext? context)
    {
        var method = entry.Create(arguments, context);
        arguments.EnsureAllRead(entry.Name);
        return method;
    }

    private static (MethodEntry Entry, MethodArguments Arguments) Parse(string specification, long seed)
    {
        var (name, values) = Split(specification);
        return (Find(name), new MethodArguments(seed, values));
    }

    private static void CreateAndDiscard(MethodEntry entry, MethodArguments arguments)
    {
        using var scope = NewDisposeScope();
        // A stand-in shared layer, so that GradNorm's arguments can be checked before the model exists.
        var layer = new Parameter(zeros(1), requires_grad: true);
        var method = Checked(entry, arguments, new LossWeightingContext(2, SharedLayerWeight: layer));
        foreach (var parameter in (method as ILearnableLossWeighting)?.parameters() ?? [])
        {
            parameter.Dispose();
        }
    }

    /// <summary>Splits <c>name[:key=value[,key=value…]]</c> into the trimmed name and the (case-insensitive) arguments.</summary>
    /// <exception cref="ArgumentException">Empty specification or a malformed argument.</exception>
    internal static (string Name, Dictionary<string, string> Values) Split(string specification)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(specification);
        var colon = specification.IndexOf(':');
        var name = (colon < 0 ? specification : specification[..colon]).Trim();
        if (name.Length == 0)
        {
            throw new ArgumentException($"The method specification '{specification}' has no method name before ':'.");
        }
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (colon >= 0)
        {
            foreach (var pair in specification[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var equals = pair.IndexOf('=');
                if (equals <= 0 || equals == pair.Length - 1)
                {
                    throw new ArgumentException($"Malformed method argument '{pair}' in '{specification}'; expected key=value.");
                }
                values[pair[..equals].Trim()] = pair[(equals + 1)..].Trim();
            }
        }
        return (name, values);
    }
}
