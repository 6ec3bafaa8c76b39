namespace GradientSurgery.Aggregation;

/// <summary>One aggregator the library offers, selectable by name (CLI <c>--method</c>, the toy, the demo).</summary>
/// <param name="Name">The lower-case name used on the command line.</param>
/// <param name="DisplayName">The name used in tables and plots.</param>
/// <param name="Reference">The paper that defines it.</param>
/// <param name="Create">Builds the aggregator from the run's seed and the specification's arguments.</param>
public sealed record AggregatorInfo(string Name, string DisplayName, string Reference, Func<MethodArguments, IAggregator> Create);

/// <summary>
/// The registry of aggregators: the single list that the CLI, the toy and the demo enumerate, so that a
/// method added here appears everywhere.
/// </summary>
public static class Aggregators
{
    /// <summary>Every aggregator, in the order tables list them.</summary>
    public static IReadOnlyList<AggregatorInfo> All { get; } =
    [
        new("sum", "Sum", "Σ_i g_i: one backward of the summed loss", _ => new Sum()),
        new("mean", "Mean (EW)", "equal weighting: one backward of the mean loss", _ => new Mean()),
        new("pcgrad", "PCGrad", "Yu et al., Gradient Surgery for Multi-Task Learning, NeurIPS 2020",
            a => new PCGrad(a.Enum("reduction", Reduction.Sum), a.Seed)),
        new("mgda", "MGDA", "Sener & Koltun, Multi-Task Learning as Multi-Objective Optimization, NeurIPS 2018 (MGDA: Désidéri 2012)",
            a => new MGDA(a.Enum("normalization", MGDA.GradientNormalization.None))),
        new("mgdaub", "MGDA-UB", "Sener & Koltun, Multi-Task Learning as Multi-Objective Optimization, NeurIPS 2018, Section 3.3",
            _ => new MGDAUB()),
        new("cagrad", "CAGrad", "Liu et al., Conflict-Averse Gradient Descent for Multi-task Learning, NeurIPS 2021",
            a => new CAGrad(a.Double("c", 0.5), a.Bool("rescale", false))),
        new("imtlg", "IMTL-G", "Liu et al., Towards Impartial Multi-task Learning, ICLR 2021", _ => new IMTLG()),
        new("nashmtl", "Nash-MTL", "Navon et al., Multi-Task Learning as a Bargaining Game, ICML 2022",
            a => new NashMTL(a.Int("update_weights_every", 1))),
        new("fairgrad", "FairGrad", "Ban and Ji, Fair Resource Allocation in Multi-Task Learning, ICML 2024",
            a => new FairGrad(a.Double("alpha", 1.0))),
        new("upgrad", "UPGrad", "Quinton & Rey, Jacobian Descent for Multi-Objective Optimization, arXiv 2406.16232, 2024", _ => new UPGrad()),
        new("dualproj", "DualProj", "Quinton & Rey, Jacobian Descent for Multi-Objective Optimization, arXiv 2406.16232, 2024", _ => new DualProj()),
        new("alignedmtl", "Aligned-MTL", "Senushkin et al., Independent Component Alignment for Multi-Task Learning, CVPR 2023",
            a => new AlignedMTL(rankEpsilon: a.Double("eps", AlignedMTL.Float32Epsilon))),
        new("gradvac", "GradVac", "Wang et al., Gradient Vaccine: Investigating and Improving Multi-task Optimization in Massively Multilingual Models, ICLR 2021",
            a => new GradVac(a.Double("beta", 0.01), a.Double("target", 0.0), a.Enum("reduction", Reduction.Sum), a.Seed)),
        new("graddrop", "GradDrop", "Chen et al., Just Pick a Sign: Optimizing Deep Multitask Models with Gradient Sign Dropout, NeurIPS 2020",
            a => new GradDrop(a.Double("leak", 0.0), a.Seed)),
        new("config", "ConFIG", "Liu, Chu and Thuerey, ConFIG: Towards Conflict-free Training of Physics Informed Neural Networks, ICLR 2025",
            a => new ConFIG(a.Double("rtol", ConFIG.DefaultRelativeTolerance))),
        new("rlw", "RLW", "Lin et al., Reasonable Effectiveness of Random Weighting: A Litmus Test for Multi-Task Learning, TMLR 2022",
            a => new RLW(a.Seed)),
        new("dbmtl", "DB-MTL", "Lin et al., Dual-Balancing for Multi-Task Learning, arXiv 2308.12029, 2023",
            a => new Weighting.DBMTL(a.Double("beta", 0.9))),
    ];

    /// <summary>The registered names.</summary>
    public static IEnumerable<string> Names => All.Select(m => m.Name);

    /// <summary>Looks a method up by name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No method has that name; the message lists the valid names.</exception>
    public static AggregatorInfo Find(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"Unknown method '{name}'. Known methods: {string.Join(", ", Names)}.");
    }

    /// <summary>
    /// Creates an aggregator from a specification <c>name[:key=value[,key=value…]]</c>, e.g. <c>pcgrad</c> or
    /// <c>pcgrad:reduction=mean</c>.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name, malformed specification, or an argument the method does not take.</exception>
    public static IAggregator Create(string specification, long seed)
    {
        var (info, arguments) = Parse(specification, seed);
        var aggregator = info.Create(arguments);
        arguments.EnsureAllRead(info.Name);
        return aggregator;
    }

    /// <summary>Splits a specification into its registered method and its arguments.</summary>
    public static (AggregatorInfo Info, MethodArguments Arguments) Parse(string specification, long seed)
    {
        var (name, values) = Methods.Split(specification);
        return (Find(name), new MethodArguments(seed, values));
    }
}
