using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// A routing network (Rosenbaum, Klinger &amp; Riemer, "Routing Networks: Adaptive Selection of Non-linear Functions
/// for Multi-Task Learning", ICLR 2018): a shared trunk, then L routed layers of B function blocks (linear → ReLU)
/// each, then one output layer per task. A router with one tabular agent per task picks, at every routed layer, the
/// block the task's inputs go through; the agents learn by the Weighted Policy Learner
/// (<see cref="WeightedPolicyLearner"/>) from the rewards <see cref="Reward"/> receives after each training step.
/// </summary>
/// <remarks>
/// <para>
/// Parameters: the trunk and every function block are shared (any task may route through any block, so the blocks take
/// part in the surgery; a block that no task took in a batch simply gets no gradient); task t's output layer is task
/// t's own. The router is no parameter: its policy (T×L×B probabilities, uniform at first) and value estimates are
/// buffers named <c>policy</c> and <c>values</c>, so <c>save</c>/<c>load</c> and checkpoints keep them. There is no
/// shared representation (<see cref="MultiTaskOutput.SharedFeatures"/> is null): shared blocks sit after the trunk's
/// output, so only the parameters path of the multi-task backward applies.
/// </para>
/// <para>
/// Routes: in training mode every task's route is drawn from its policy with torch's global generator (one
/// <c>multinomial</c> draw per forward pass, before the trunk's own random layers), so a checkpointed run resumes
/// exactly; in eval mode every task takes its most probable block (the first on ties). Tasks whose routes agree up
/// to a layer share that computation.
/// </para>
/// <para>
/// Departures from the paper, and why. (1) The paper routes each example by its task's agent; here a task's whole
/// batch takes one route per forward pass, since the trainer needs every task's output for every example: T routes
/// per batch instead of T × N. (2) The final reward of a task's route is the mean over the batch's examples labelled
/// for that task of +1 (correct) / −1 (wrong), the paper's correctness reward averaged over the examples that shared
/// the route. (3) The collaboration reward counts the other tasks' routes of the same batch (the authors' library
/// counts recent actions over a history). (4) <see cref="ForCifarMtl"/> leaves out the batch normalisation the
/// authors' code puts after the convolutions (its statistics would differ between data-parallel shards).
/// </para>
/// <para>
/// Data-parallel training is not supported: each rank would reward its router from its own shard and the ranks'
/// policies would drift apart; <see cref="Reward"/> refuses a shard of a larger batch.
/// </para>
/// </remarks>
public sealed class RoutingNetwork : MultiTaskModule, IRewardedNetwork
{
    private const string PolicyName = "policy";
    private const string ValuesName = "values";

    private readonly Module<Tensor, Tensor> _trunk;
    private readonly ModuleList<ModuleList<Linear>> _blocks;
    private readonly ModuleList<Linear> _heads;
    private readonly int _trunkWidth;
    private int[,]? _routes;

    /// <summary>Creates the network; its initial weights come from the global torch generator (blocks layer by layer, then heads).</summary>
    /// <param name="trunk">The shared trunk, not routed, mapping a batch to N×<paramref name="trunkWidth"/> features; its last weight is <see cref="LastSharedLayerWeight"/>.</param>
    /// <param name="trunkWidth">Width of the trunk's output.</param>
    /// <param name="layers">Routed layers L.</param>
    /// <param name="blocks">Function blocks B per routed layer (the paper uses as many as tasks).</param>
    /// <param name="blockWidth">Output width of every block.</param>
    /// <param name="tasks">Tasks T: one router agent and one output layer each.</param>
    /// <param name="classes">Classes of every task's output layer.</param>
    /// <param name="router">The router's hyper-parameters; <see cref="RouterSettings"/>' defaults when null.</param>
    /// <param name="shard">The batch shard that random layers of the trunk follow; a new one when null.</param>
    /// <exception cref="ArgumentException">A trunk without a weight, or a size that is not positive.</exception>
    public RoutingNetwork(
        Module<Tensor, Tensor> trunk, int trunkWidth, int layers, int blocks, int blockWidth, int tasks, int classes,
        RouterSettings? router = null, BatchShard? shard = null)
        : base(nameof(RoutingNetwork))
    {
        ArgumentNullException.ThrowIfNull(trunk);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(trunkWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tasks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (!trunk.parameters().Any(p => p.dim() >= 2))
        {
            throw new ArgumentException("The trunk has no weight (a parameter with two or more dimensions): GradNorm's last shared layer would be missing.", nameof(trunk));
        }
        Router = router ?? new RouterSettings();
        Router.Validate(blocks);
        (TaskCount, Layers, Blocks, _trunkWidth) = (tasks, layers, blocks, trunkWidth);
        Shard = shard ?? new BatchShard();
        _trunk = trunk;
        _blocks = new ModuleList<ModuleList<Linear>>([.. Enumerable.Range(0, layers).Select(l =>
            new ModuleList<Linear>([.. Enumerable.Range(0, blocks).Select(_ => Linear(l == 0 ? trunkWidth : blockWidth, blockWidth))]))]);
        _heads = new ModuleList<Linear>([.. Enumerable.Range(0, tasks).Select(_ => Linear(blockWidth, classes))]);
        // Registered by name (not RegisterComponents) so that saved models read trunk.*, blocks.l.b.*, heads.t.*.
        register_module("trunk", _trunk);
        register_module("blocks", _blocks);
        register_module("heads", _heads);
        register_buffer(PolicyName, full(tasks, layers, blocks, 1.0 / blocks, dtype: ScalarType.Float64));
        register_buffer(ValuesName, zeros(tasks, layers, blocks, dtype: ScalarType.Float64));
    }

    /// <summary>
    /// The network for MultiMNIST-sized inputs (N×1×28×28, or other images the LeNet trunk fits): MultiLeNet's trunk
    /// (<see cref="MultiLeNet.Trunk"/>, 50 features), then 2 routed layers of 2·T blocks linear(50→50) → ReLU, then
    /// per-task linear(50→classes).
    /// </summary>
    /// <param name="tasks">Tasks (2 for MultiMNIST).</param>
    /// <param name="classes">Classes per task.</param>
    /// <param name="router">The router's hyper-parameters; defaults when null.</param>
    /// <param name="input">The images; MultiMNIST's 1×28×28 when null.</param>
    public static RoutingNetwork ForMultiMnist(int tasks = 2, int classes = 10, RouterSettings? router = null, ImageShape? input = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tasks);
        var shard = new BatchShard();
        return new RoutingNetwork(
            MultiLeNet.Trunk(shard, input ?? ImageShape.MultiMnist), MultiLeNet.FeatureSize, 2, 2 * tasks, MultiLeNet.FeatureSize, tasks, classes, router, shard);
    }

    /// <summary>
    /// The paper's CIFAR-MTL network ("routing-all-fc") for N×3×32×32 inputs: a trunk of 4 convolution blocks, each
    /// conv 3×3 with 32 filters and padding 1 (<see cref="GemmConv2d"/>) → ReLU → max-pool 2, flattened to 32·2·2 = 128
    /// features and not routed; then 3 routed layers of <paramref name="tasks"/> blocks linear(128→128) → ReLU; then
    /// per-task linear(128→<paramref name="classes"/>). CIFAR-MTL has 20 tasks (the CIFAR-100 coarse classes) of 5
    /// classes each.
    /// </summary>
    /// <param name="tasks">Tasks, and blocks per routed layer (20 in the paper).</param>
    /// <param name="classes">Classes per task (5 in the paper).</param>
    /// <param name="router">The router's hyper-parameters; defaults when null.</param>
    public static RoutingNetwork ForCifarMtl(int tasks = 20, int classes = 5, RouterSettings? router = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tasks);
        const int Filters = 32;
        var trunk = Sequential(
            ("conv1", new GemmConv2d(3, Filters, 3, padding: 1)), ("relu1", ReLU()), ("pool1", MaxPool2d(2)),
            ("conv2", new GemmConv2d(Filters, Filters, 3, padding: 1)), ("relu2", ReLU()), ("pool2", MaxPool2d(2)),
            ("conv3", new GemmConv2d(Filters, Filters, 3, padding: 1)), ("relu3", ReLU()), ("pool3", MaxPool2d(2)),
            ("conv4", new GemmConv2d(Filters, Filters, 3, padding: 1)), ("relu4", ReLU()), ("pool4", MaxPool2d(2)),
            ("flatten", Flatten()));
        return new RoutingNetwork(trunk, Filters * 2 * 2, 3, tasks, 128, tasks, classes, router);
    }

    /// <inheritdoc />
    public override int TaskCount { get; }

    /// <summary>Routed layers L.</summary>
    public int Layers { get; }

    /// <summary>Function blocks B per routed layer.</summary>
    public int Blocks { get; }

    /// <summary>The router's hyper-parameters.</summary>
    public RouterSettings Router { get; }

    /// <inheritdoc />
    public override BatchShard Shard { get; }

    /// <inheritdoc />
    /// <remarks>The trunk's parameters, then every block's (layer by layer).</remarks>
    public override IEnumerable<Parameter> SharedParameters => _trunk.parameters().Concat(_blocks.parameters());

    /// <inheritdoc />
    /// <remarks>Task t's output layer.</remarks>
    public override IReadOnlyList<IEnumerable<Parameter>> TaskParameters => [.. _heads.Select(h => h.parameters())];

    /// <inheritdoc />
    /// <remarks>The trunk's last parameter with two or more dimensions.</remarks>
    public override Parameter LastSharedLayerWeight => _trunk.parameters().Last(p => p.dim() >= 2);

    /// <summary>
    /// The router's policy, T×L×B (task, routed layer, block) probabilities: the registered buffer itself. Write to it
    /// (under <c>no_grad</c>) only to fix routes, as tests do; every row must stay a distribution.
    /// </summary>
    // Looked up, not kept in a field: Module.to(dtype or device) replaces registered buffers.
    public Tensor Policy => get_buffer(PolicyName) ?? throw new InvalidOperationException("The routing network has lost its policy buffer.");

    /// <summary>WPL's value estimates Q, T×L×B like <see cref="Policy"/>: the registered buffer itself.</summary>
    public Tensor Values => get_buffer(ValuesName) ?? throw new InvalidOperationException("The routing network has lost its values buffer.");

    /// <summary>
    /// The routes of the last training-mode <see cref="Forward"/> not yet rewarded: entry [t, l] is the block task t
    /// took at routed layer l; null when there are none. A copy.
    /// </summary>
    public int[,]? LastRoutes => _routes?.Clone() as int[,];

    /// <summary>
    /// Every task's route for the next forward pass: drawn from the policy with the global generator in training mode,
    /// the most probable blocks in eval mode.
    /// </summary>
    public int[,] ChooseRoutes()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var rows = Policy.detach().reshape(TaskCount * Layers, Blocks);
        var chosen = training ? multinomial(rows, 1) : rows.argmax(1);
        var flat = chosen.reshape(-1).to(ScalarType.Int64).cpu().data<long>().ToArray();
        var routes = new int[TaskCount, Layers];
        for (var t = 0; t < TaskCount; t++)
        {
            for (var l = 0; l < Layers; l++)
            {
                routes[t, l] = (int)flat[t * Layers + l];
            }
        }
        return routes;
    }

    /// <inheritdoc />
    /// <remarks>In training mode the routes are new draws and are kept for <see cref="Reward"/>.</remarks>
    public override MultiTaskOutput Forward(Tensor inputs)
    {
        var routes = ChooseRoutes();
        var outputs = Route(inputs, routes);
        if (training)
        {
            _routes = routes;
        }
        return new MultiTaskOutput(outputs, null);
    }

    /// <summary>Every task's output; in training mode on newly drawn routes, which <see cref="Reward"/> does not see (only <see cref="Forward"/>'s are rewarded).</summary>
    /// <remarks>
    /// Kept apart from <see cref="Forward"/> so that the trainer's second forward pass of a step (FAMO's feedback, the
    /// same batch after the update) does not replace the routes that the step's outputs — those rewarded — went through.
    /// </remarks>
    public override Tensor[] forward(Tensor inputs) => Route(inputs, ChooseRoutes());

    /// <summary>Every task's output on the given routes (entry [t, l]: task t's block at routed layer l).</summary>
    /// <exception cref="ArgumentException">Routes of the wrong size or out of range, or a trunk output that is not N×trunk width.</exception>
    public Tensor[] Route(Tensor inputs, int[,] routes)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(routes);
        if (routes.GetLength(0) != TaskCount || routes.GetLength(1) != Layers)
        {
            throw new ArgumentException($"Routes are {routes.GetLength(0)}×{routes.GetLength(1)}, the network has {TaskCount} tasks × {Layers} routed layers.", nameof(routes));
        }
        foreach (var block in routes)
        {
            if (block < 0 || block >= Blocks)
            {
                throw new ArgumentException($"Route block {block} is out of range for {Blocks} blocks per layer.", nameof(routes));
            }
        }
        if (inputs.dim() < 1)
        {
            throw new ArgumentException("The inputs must have a batch dimension.", nameof(inputs));
        }
        var features = _trunk.forward(inputs);
        if (features.dim() != 2 || features.shape[0] != inputs.shape[0] || features.shape[1] != _trunkWidth)
        {
            throw new ArgumentException(
                $"The trunk maps inputs of shape [{string.Join(", ", inputs.shape)}] to [{string.Join(", ", features.shape)}], " +
                $"not {inputs.shape[0]}×{_trunkWidth}: inputs of the wrong shape for this network?", nameof(inputs));
        }
        // One node per distinct route prefix: tasks whose routes agree so far share the blocks' computation.
        var nodes = new List<Tensor> { features };
        var position = new int[TaskCount];
        for (var l = 0; l < Layers; l++)
        {
            var next = new Dictionary<(int Parent, int Block), int>();
            for (var t = 0; t < TaskCount; t++)
            {
                var key = (position[t], routes[t, l]);
                if (!next.TryGetValue(key, out var node))
                {
                    node = nodes.Count;
                    nodes.Add(functional.relu(_blocks[l][routes[t, l]].forward(nodes[position[t]])));
                    next[key] = node;
                }
                position[t] = node;
            }
        }
        return [.. Enumerable.Range(0, TaskCount).Select(t => _heads[t].forward(nodes[position[t]]))];
    }

    /// <summary>
    /// Updates every task's policy by WPL from the batch of the last training-mode <see cref="Forward"/>: task t's final
    /// reward is the mean over the examples labelled for it (label ≥ 0) of +1 when its output's argmax is the label and −1
    /// otherwise; a task without a labelled example gets no update. Collaboration rewards as in
    /// <see cref="WeightedPolicyLearner"/>. The routes are used once.
    /// </summary>
    /// <exception cref="ArgumentException">Output or label counts other than the task count, or outputs and labels of different lengths.</exception>
    /// <exception cref="InvalidOperationException">No training-mode <see cref="Forward"/> since the last reward.</exception>
    /// <exception cref="NotSupportedException">The batch is a data-parallel shard (see the class remarks).</exception>
    public void Reward(IReadOnlyList<Tensor> outputs, IReadOnlyList<Tensor> labels)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(labels);
        if (outputs.Count != TaskCount)
        {
            throw new ArgumentException($"{outputs.Count} outputs for {TaskCount} tasks.", nameof(outputs));
        }
        if (labels.Count != TaskCount)
        {
            throw new ArgumentException($"{labels.Count} label tensors for {TaskCount} tasks.", nameof(labels));
        }
        var routes = _routes ?? throw new InvalidOperationException("Reward needs the routes of a training-mode Forward, and there are none (not yet, or already rewarded).");
        var finalRewards = new double?[TaskCount];
        using (var scope = NewDisposeScope())
        {
            for (var t = 0; t < TaskCount; t++)
            {
                var (output, label) = (outputs[t], labels[t]);
                if (output.dim() != 2 || label.dim() != 1 || output.shape[0] != label.shape[0])
                {
                    throw new ArgumentException(
                        $"Task {t}: outputs of shape [{string.Join(", ", output.shape)}] and labels of shape [{string.Join(", ", label.shape)}]; expected N×classes and N.", nameof(labels));
                }
                if (Shard.GlobalSize is { } global && global != output.shape[0])
                {
                    throw new NotSupportedException(
                        $"The batch is a shard of {output.shape[0]} rows of a global batch of {global}: rewarding each rank's router from its own shard would let the ranks' policies drift apart.");
                }
                var labelled = label.ge(0);
                var count = labelled.sum().item<long>();
                if (count == 0)
                {
                    continue;
                }
                var correct = output.detach().argmax(1).eq(label).logical_and(labelled).sum().item<long>();
                finalRewards[t] = (2.0 * correct - count) / count;
            }
        }
        var policy = Read(Policy);
        var values = Read(Values);
        WeightedPolicyLearner.Update(policy, values, routes, finalRewards, Router);
        Write(Policy, policy);
        Write(Values, values);
        _routes = null;
    }

    private static double[] Read(Tensor buffer)
    {
        using var scope = NewDisposeScope();
        return buffer.detach().to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
    }

    private static void Write(Tensor buffer, double[] data)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        buffer.copy_(tensor(data, dtype: ScalarType.Float64).view(buffer.shape));
    }
}
