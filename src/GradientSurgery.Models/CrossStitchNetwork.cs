using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// A cross-stitch network (Misra et al., CVPR 2016) for MultiMNIST-sized inputs: one MultiLeNet column per task (the
/// trunk's layers and a head), with a <see cref="CrossStitchUnit"/> after each of the trunk's three blocks (after the
/// first convolution block, 10 channels; the second, 20 channels; and the linear layer, 50 features).
/// </summary>
/// <remarks>
/// <para>
/// The split the surgery sees: the cross-stitch units are <b>shared</b>; each column is <b>its task's own</b>. A column
/// is read by the other tasks through the units, so the other tasks' losses do reach it; it nevertheless receives its
/// own task's gradient only (<see cref="IMultiTaskNetwork.TaskParameters"/>), and the sharing between tasks is learned
/// by the units alone. Misra et al. train the columns on the sum of the losses, so there a column also takes the other
/// tasks' gradients; with this split every method of the catalog, the plain mean included, trains a column on its task.
/// </para>
/// <para>
/// There is no shared representation that every output depends on through task-specific layers only (shared units
/// sit between task-specific layers), so <see cref="Forward"/> gives no shared features and the multi-task backward
/// takes the parameters path. Input N×1×28×28, or the images given to the constructor.
/// </para>
/// </remarks>
public sealed class CrossStitchNetwork : MultiTaskModule
{
    private readonly ModuleList<Sequential> block1;
    private readonly ModuleList<Sequential> block2;
    private readonly ModuleList<Sequential> block3;
    private readonly ModuleList<Sequential> heads;
    private readonly ModuleList<CrossStitchUnit> units;

    /// <summary>Creates the network; initial weights come from the global torch generator.</summary>
    /// <param name="tasks">Number of tasks (columns).</param>
    /// <param name="classes">Classes per task.</param>
    /// <param name="input">The images; MultiMNIST's 1×28×28 when null.</param>
    public CrossStitchNetwork(int tasks = 2, int classes = 10, ImageShape? input = null) : base(nameof(CrossStitchNetwork))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tasks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        var shape = input ?? ImageShape.MultiMnist;
        shape.EnsureLeNetFits();
        Shard = new BatchShard();
        var columns = Enumerable.Range(0, tasks).ToArray();
        block1 = new ModuleList<Sequential>([.. columns.Select(_ =>
            Sequential(("conv1", new GemmConv2d(shape.Channels, 10, 5)), ("pool1", MaxPool2d(2)), ("relu1", ReLU())))]);
        block2 = new ModuleList<Sequential>([.. columns.Select(_ =>
            Sequential(("conv2", new GemmConv2d(10, 20, 5)), ("drop2", new ShardedDropout(Shard, feature: true)), ("pool2", MaxPool2d(2)), ("relu2", ReLU())))]);
        block3 = new ModuleList<Sequential>([.. columns.Select(_ =>
            Sequential(("flatten", Flatten()), ("fc", Linear(20L * shape.SecondBlockSide * shape.SecondBlockSide, MultiLeNet.FeatureSize)), ("relu3", ReLU())))]);
        heads = new ModuleList<Sequential>([.. columns.Select(_ => MultiLeNet.Head(Shard, classes))]);
        units = new ModuleList<CrossStitchUnit>(new CrossStitchUnit(tasks, 10), new CrossStitchUnit(tasks, 20), new CrossStitchUnit(tasks, MultiLeNet.FeatureSize));
        TaskCount = tasks;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int TaskCount { get; }

    /// <inheritdoc />
    public override BatchShard Shard { get; }

    /// <inheritdoc />
    /// <remarks>The α of the three cross-stitch units.</remarks>
    public override IEnumerable<Parameter> SharedParameters => units.parameters();

    /// <inheritdoc />
    /// <remarks>Task i's column: its three trunk blocks and its head.</remarks>
    public override IReadOnlyList<IEnumerable<Parameter>> TaskParameters =>
        [.. Enumerable.Range(0, TaskCount).Select(i => block1[i].parameters().Concat(block2[i].parameters()).Concat(block3[i].parameters()).Concat(heads[i].parameters()))];

    /// <inheritdoc />
    /// <remarks>The α of the last cross-stitch unit, the last shared layer.</remarks>
    public override Parameter LastSharedLayerWeight => units[^1].Alpha;

    /// <inheritdoc />
    public override MultiTaskOutput Forward(Tensor inputs)
    {
        Tensor[] columns = [.. block1.Select(b => b.forward(inputs))];
        columns = units[0].forward(columns);
        columns = units[1].forward([.. columns.Select((x, i) => block2[i].forward(x))]);
        columns = units[2].forward([.. columns.Select((x, i) => block3[i].forward(x))]);
        return new MultiTaskOutput([.. columns.Select((x, i) => heads[i].forward(x))], SharedFeatures: null);
    }
}
