using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// Multi-task attention network, MTAN (Liu, Johns &amp; Davison, CVPR 2019), in a small variant for image
/// classification: MultiLeNet's trunk is the shared backbone, and every task has its own soft-attention module at each
/// of the backbone's three blocks, which masks that block's output with a mask computed from it and from the task's
/// attended features of the block before.
/// </summary>
/// <remarks>
/// <para>
/// Backbone blocks (shared; sizes for 1×28×28 images): p1 = relu(pool(conv 1→10, k5)) (10×12×12),
/// p2 = relu(pool(dropout2d(conv 10→20, k5))) (20×4×4), p3 = relu(linear 320→50). Task t's attention (its own): a1 = σ(h1(p1)) ⊙ p1; a2 = σ(h2([p2, f1(a1)])) ⊙ p2;
/// a3 = σ(h3([p3, f2(a2)])) ⊙ p3; then a MultiLeNet head on a3. Each h is two 1×1 convolutions (linear maps for the last
/// block) with a ReLU between, as the paper's attention module g = σ(conv1×1(ReLU(conv1×1(·)))); f1 is a 3×3 convolution
/// with a max-pool that brings a1 to p2's shape (3×3 for 28-pixel images), f2 a linear layer to p3's width, as the paper's f matches the next
/// block. Deviations, for a network this small: the backbone's blocks have one layer, so the mask is computed from the
/// block's output rather than from an intermediate layer of the block, and the attention modules have no batch
/// normalisation.
/// </para>
/// <para>
/// The split the surgery sees: the backbone is <b>shared</b>; each task's attention modules and head are <b>its own</b>.
/// The shared representation of the features path is the three block outputs packed into one tensor (N×1810 for
/// 28-pixel images); the
/// attention modules read views of it, so everything after it is task-specific.
/// </para>
/// </remarks>
public sealed class MtanNetwork : MultiTaskModule
{
    private readonly long[] _blockShape1;
    private readonly long[] _blockShape2;
    private readonly long _size1;
    private readonly long _size2;

    private readonly Sequential block1;
    private readonly Sequential block2;
    private readonly Sequential block3;
    private readonly ModuleList<Sequential> mask1;
    private readonly ModuleList<Sequential> match1;
    private readonly ModuleList<Sequential> mask2;
    private readonly ModuleList<Sequential> match2;
    private readonly ModuleList<Sequential> mask3;
    private readonly ModuleList<Sequential> heads;

    /// <summary>Creates the network; initial weights come from the global torch generator.</summary>
    /// <param name="tasks">Number of tasks.</param>
    /// <param name="classes">Classes per task.</param>
    /// <param name="input">The images; MultiMNIST's 1×28×28 when null.</param>
    public MtanNetwork(int tasks = 2, int classes = 10, ImageShape? input = null) : base(nameof(MtanNetwork))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tasks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        var shape = input ?? ImageShape.MultiMnist;
        shape.EnsureLeNetFits();
        _blockShape1 = [10, shape.FirstBlockSide, shape.FirstBlockSide];
        _blockShape2 = [20, shape.SecondBlockSide, shape.SecondBlockSide];
        _size1 = _blockShape1.Aggregate((a, b) => a * b);
        _size2 = _blockShape2.Aggregate((a, b) => a * b);
        Shard = new BatchShard();
        block1 = Sequential(("conv1", new GemmConv2d(shape.Channels, 10, 5)), ("pool1", MaxPool2d(2)), ("relu1", ReLU()));
        block2 = Sequential(("conv2", new GemmConv2d(10, 20, 5)), ("drop2", new ShardedDropout(Shard, feature: true)), ("pool2", MaxPool2d(2)), ("relu2", ReLU()));
        block3 = Sequential(("flatten", Flatten()), ("fc", Linear(_size2, MultiLeNet.FeatureSize)), ("relu3", ReLU()));
        var each = Enumerable.Range(0, tasks).ToArray();
        mask1 = new ModuleList<Sequential>([.. each.Select(_ => Sequential(("conv_a", new GemmConv2d(10, 10, 1)), ("relu", ReLU()), ("conv_b", new GemmConv2d(10, 10, 1)), ("sigmoid", Sigmoid())))]);
        match1 = new ModuleList<Sequential>([.. each.Select(_ => Sequential(("conv", new GemmConv2d(10, 20, 3, padding: 1)), ("pool", AdaptiveMaxPool2d([shape.SecondBlockSide, shape.SecondBlockSide])), ("relu", ReLU())))]);
        mask2 = new ModuleList<Sequential>([.. each.Select(_ => Sequential(("conv_a", new GemmConv2d(40, 20, 1)), ("relu", ReLU()), ("conv_b", new GemmConv2d(20, 20, 1)), ("sigmoid", Sigmoid())))]);
        match2 = new ModuleList<Sequential>([.. each.Select(_ => Sequential(("flatten", Flatten()), ("fc", Linear(_size2, MultiLeNet.FeatureSize)), ("relu", ReLU())))]);
        mask3 = new ModuleList<Sequential>([.. each.Select(_ => Sequential(("fc_a", Linear(2 * MultiLeNet.FeatureSize, MultiLeNet.FeatureSize)), ("relu", ReLU()), ("fc_b", Linear(MultiLeNet.FeatureSize, MultiLeNet.FeatureSize)), ("sigmoid", Sigmoid())))]);
        heads = new ModuleList<Sequential>([.. each.Select(_ => MultiLeNet.Head(Shard, classes))]);
        TaskCount = tasks;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int TaskCount { get; }

    /// <inheritdoc />
    public override BatchShard Shard { get; }

    /// <inheritdoc />
    /// <remarks>The backbone's three blocks.</remarks>
    public override IEnumerable<Parameter> SharedParameters => block1.parameters().Concat(block2.parameters()).Concat(block3.parameters());

    /// <inheritdoc />
    /// <remarks>Task i's attention modules and head.</remarks>
    public override IReadOnlyList<IEnumerable<Parameter>> TaskParameters =>
        [.. Enumerable.Range(0, TaskCount).Select(i => new[] { mask1[i], match1[i], mask2[i], match2[i], mask3[i], heads[i] }.SelectMany(m => m.parameters()))];

    /// <inheritdoc />
    /// <remarks>The backbone's linear layer weight.</remarks>
    public override Parameter LastSharedLayerWeight => block3.parameters().Last(p => p.dim() >= 2);

    /// <inheritdoc />
    public override MultiTaskOutput Forward(Tensor inputs)
    {
        var p1 = block1.forward(inputs);
        var p2 = block2.forward(p1);
        var p3 = block3.forward(p2);
        var features = cat([p1.flatten(1), p2.flatten(1), p3], 1);
        return new MultiTaskOutput(Attend(features), features);
    }

    /// <summary>Every task's attention and head, reading the backbone's blocks from the packed features only.</summary>
    private Tensor[] Attend(Tensor features)
    {
        var rows = features.shape[0];
        var p1 = features.narrow(1, 0, _size1).reshape([rows, .. _blockShape1]);
        var p2 = features.narrow(1, _size1, _size2).reshape([rows, .. _blockShape2]);
        var p3 = features.narrow(1, _size1 + _size2, MultiLeNet.FeatureSize);
        return [.. Enumerable.Range(0, TaskCount).Select(t =>
        {
            var a1 = mask1[t].forward(p1) * p1;
            var a2 = mask2[t].forward(cat([p2, match1[t].forward(a1)], 1)) * p2;
            var a3 = mask3[t].forward(cat([p3, match2[t].forward(a2)], 1)) * p3;
            return heads[t].forward(a3);
        })];
    }
}
