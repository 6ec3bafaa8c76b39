using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// Multi-gate mixture of experts, MMoE (Ma, Zhao, Yi, Chen, Hong &amp; Chi, KDD 2018, Eq. 4–5): E experts that every task
/// shares, and for each task a softmax gate over the experts computed from the input and a tower on the gated mixture,
/// y_k = h_k(Σ_e g_k(x)_e f_e(x)) with g_k(x) = softmax(W_gk x).
/// </summary>
/// <remarks>
/// For MultiMNIST-sized inputs (N×1×28×28): each expert is MultiLeNet's trunk (two convolution blocks and a linear layer
/// to 50 features), each gate a linear map of the flattened pixels (784) to E logits (the paper's linear gate), each
/// tower a MultiLeNet head. The split the surgery sees: the experts are <b>shared</b>; each gate and tower is <b>its
/// task's own</b>. The experts' outputs (N×E×50) are the shared representation of the features path: everything after
/// them is task-specific, and the gates read only the input.
/// </remarks>
public sealed class MmoeNetwork : MultiTaskModule
{
    private readonly ModuleList<Sequential> experts;
    private readonly ModuleList<Sequential> gates;
    private readonly ModuleList<Sequential> towers;

    /// <summary>Creates the network; initial weights come from the global torch generator.</summary>
    /// <param name="tasks">Number of tasks (gates and towers).</param>
    /// <param name="classes">Classes per task.</param>
    /// <param name="experts">Number of shared experts E.</param>
    /// <param name="input">The images; MultiMNIST's 1×28×28 when null.</param>
    public MmoeNetwork(int tasks = 2, int classes = 10, int experts = 3, ImageShape? input = null) : base(nameof(MmoeNetwork))
    {
        var shape = input ?? ImageShape.MultiMnist;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tasks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(experts);
        Shard = new BatchShard();
        this.experts = new ModuleList<Sequential>([.. Enumerable.Range(0, experts).Select(_ => MultiLeNet.Trunk(Shard, shape))]);
        gates = new ModuleList<Sequential>([.. Enumerable.Range(0, tasks).Select(_ => Sequential(("flatten", Flatten()), ("gate", Linear(shape.Size, experts)), ("softmax", Softmax(1))))]);
        towers = new ModuleList<Sequential>([.. Enumerable.Range(0, tasks).Select(_ => MultiLeNet.Head(Shard, classes))]);
        TaskCount = tasks;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int TaskCount { get; }

    /// <inheritdoc />
    public override BatchShard Shard { get; }

    /// <inheritdoc />
    /// <remarks>The experts' parameters.</remarks>
    public override IEnumerable<Parameter> SharedParameters => experts.parameters();

    /// <inheritdoc />
    /// <remarks>Task i's gate and tower.</remarks>
    public override IReadOnlyList<IEnumerable<Parameter>> TaskParameters =>
        [.. Enumerable.Range(0, TaskCount).Select(i => gates[i].parameters().Concat(towers[i].parameters()))];

    /// <inheritdoc />
    /// <remarks>The last expert's linear layer weight.</remarks>
    public override Parameter LastSharedLayerWeight => experts[^1].parameters().Last(p => p.dim() >= 2);

    /// <inheritdoc />
    public override MultiTaskOutput Forward(Tensor inputs)
    {
        var features = stack([.. experts.Select(e => e.forward(inputs))], 1); // N×E×50
        return new MultiTaskOutput(Towers(inputs, features), features);
    }

    private Tensor[] Towers(Tensor inputs, Tensor features) =>
        [.. Enumerable.Range(0, TaskCount).Select(i =>
        {
            var weights = gates[i].forward(inputs).unsqueeze(2); // N×E×1
            return towers[i].forward((weights * features).sum(1));
        })];
}
