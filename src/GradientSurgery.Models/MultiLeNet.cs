using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// MultiLeNet, the network of Sener &amp; Koltun (NeurIPS 2018) used by the PCGrad paper on MultiMNIST:
/// shared trunk conv(1→10, k5) → maxpool 2 → ReLU → conv(10→20, k5) → dropout2d → maxpool 2 → ReLU →
/// flatten (320) → linear(320→50) → ReLU; each task head linear(50→50) → ReLU → dropout → linear(50→10).
/// Input: N×1×28×28. Dropout probabilities are PyTorch's defaults (0.5), as in the original code; the dropout layers
/// are <see cref="ShardedDropout"/>, libtorch's dropout with masks that data-parallel ranks draw alike (<see cref="Shard"/>).
/// </summary>
public sealed class MultiLeNet : Module<Tensor, Tensor[]>, IMultiTaskNetwork
{
    private readonly Sequential trunk;
    private readonly ModuleList<Sequential> heads;

    /// <summary>Creates the network; initial weights come from the global torch generator.</summary>
    /// <param name="tasks">Number of classification heads (2 for MultiMNIST).</param>
    /// <param name="classes">Classes per head.</param>
    /// <param name="convolution">
    /// Builds each convolution from (input channels, output channels, kernel size); <see cref="GemmConv2d"/> by
    /// default. Pass <c>(i, o, k) =&gt; nn.Conv2d(i, o, k)</c> for libtorch's own kernels only on a processor known
    /// not to be affected by their non-finite gradients (docs/troubleshooting.md); both draw the same initial weights.
    /// </param>
    public MultiLeNet(int tasks = 2, int classes = 10, Func<long, long, long, Module<Tensor, Tensor>>? convolution = null) : base(nameof(MultiLeNet))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tasks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        convolution ??= (inChannels, outChannels, kernel) => new GemmConv2d(inChannels, outChannels, kernel);
        TaskCount = tasks;
        Shard = new BatchShard();
        trunk = Sequential(
            ("conv1", convolution(1, 10, 5)), ("pool1", MaxPool2d(2)), ("relu1", ReLU()),
            ("conv2", convolution(10, 20, 5)), ("drop2", new ShardedDropout(Shard, feature: true)), ("pool2", MaxPool2d(2)), ("relu2", ReLU()),
            ("flatten", Flatten()), ("fc", Linear(320, 50)), ("relu3", ReLU()));
        heads = new ModuleList<Sequential>([.. Enumerable.Range(0, tasks).Select(_ =>
            Sequential(("fc1", Linear(50, 50)), ("relu", ReLU()), ("drop", new ShardedDropout(Shard)), ("fc2", Linear(50, classes))))]);
        RegisterComponents();
    }

    /// <inheritdoc />
    public int TaskCount { get; }

    /// <inheritdoc />
    public BatchShard Shard { get; }

    /// <inheritdoc />
    public IEnumerable<Parameter> SharedParameters => trunk.parameters();

    /// <inheritdoc />
    /// <remarks>The weight (50×320) of the trunk's linear layer 'fc'.</remarks>
    // Looked up rather than kept in a field: a module field would be registered a second time and change the
    // names in saved models.
    public Parameter LastSharedLayerWeight => ((TorchSharp.Modules.Linear)trunk.named_children().Single(c => c.name == "fc").module).weight!;

    /// <inheritdoc />
    public Tensor Features(Tensor inputs) => trunk.forward(inputs);

    /// <inheritdoc />
    public Tensor[] Heads(Tensor features) => [.. heads.Select(h => h.forward(features))];

    /// <inheritdoc />
    public override Tensor[] forward(Tensor inputs) => Heads(Features(inputs));
}
