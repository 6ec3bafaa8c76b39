using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// Hard parameter sharing (Caruana, 1997): one trunk that every task shares, followed by one head per task. The trunk's
/// parameters are shared (the surgery's), each head's parameters are its task's, and the trunk's output is the shared
/// representation of the features path.
/// </summary>
/// <example>
/// <code>
/// var model = new HardParameterSharing(Sequential(Linear(10, 32), ReLU()), [Linear(32, 1), Linear(32, 1)]);
/// </code>
/// </example>
public class HardParameterSharing : MultiTaskModule
{
    // Protected so that a subclass registers them under these names (TorchSharp registers the fields its type sees):
    // saved models name their parameters trunk.* and heads.i.*.
#pragma warning disable CA1051 // Visible instance fields: see above.
    /// <summary>The shared trunk.</summary>
    protected readonly Module<Tensor, Tensor> trunk;

    /// <summary>One head per task.</summary>
    protected readonly ModuleList<Module<Tensor, Tensor>> heads;
#pragma warning restore CA1051

    /// <summary>Creates the network from a trunk and one head per task.</summary>
    /// <param name="trunk">The shared trunk; its last weight (by registration order) is <see cref="LastSharedLayerWeight"/>.</param>
    /// <param name="heads">One head per task, each reading the trunk's output.</param>
    /// <param name="shard">The batch shard that random layers of the trunk and heads follow; a new one when null.</param>
    public HardParameterSharing(Module<Tensor, Tensor> trunk, IEnumerable<Module<Tensor, Tensor>> heads, BatchShard? shard = null)
        : this(nameof(HardParameterSharing), trunk, heads, shard)
    {
    }

    /// <summary>For subclasses that name themselves (the name appears in TorchSharp's module descriptions).</summary>
    protected HardParameterSharing(string name, Module<Tensor, Tensor> trunk, IEnumerable<Module<Tensor, Tensor>> heads, BatchShard? shard)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(trunk);
        ArgumentNullException.ThrowIfNull(heads);
        this.trunk = trunk;
        this.heads = new ModuleList<Module<Tensor, Tensor>>([.. heads]);
        if (this.heads.Count == 0)
        {
            throw new ArgumentException("At least one head is needed.", nameof(heads));
        }
        if (!trunk.parameters().Any(p => p.dim() >= 2))
        {
            throw new ArgumentException("The trunk has no weight (a parameter with two or more dimensions): nothing would be shared.", nameof(trunk));
        }
        Shard = shard ?? new BatchShard();
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int TaskCount => heads.Count;

    /// <inheritdoc />
    public override BatchShard Shard { get; }

    /// <inheritdoc />
    public override IEnumerable<Parameter> SharedParameters => trunk.parameters();

    /// <inheritdoc />
    public override IReadOnlyList<IEnumerable<Parameter>> TaskParameters => [.. heads.Select(h => h.parameters())];

    /// <inheritdoc />
    /// <remarks>The trunk's last parameter with two or more dimensions (a linear or convolution weight).</remarks>
    // Looked up rather than kept in a field: a module field would be registered a second time and change the names in
    // saved models.
    public override Parameter LastSharedLayerWeight => trunk.parameters().Last(p => p.dim() >= 2);

    /// <summary>The shared representation of a batch: the trunk's output.</summary>
    public Tensor Features(Tensor inputs) => trunk.forward(inputs);

    /// <summary>Every head's output for the shared representation.</summary>
    public Tensor[] Heads(Tensor features) => [.. heads.Select(h => h.forward(features))];

    /// <inheritdoc />
    public override MultiTaskOutput Forward(Tensor inputs)
    {
        var features = Features(inputs);
        return new MultiTaskOutput(Heads(features), features);
    }
}
