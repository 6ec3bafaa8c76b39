using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Distributed.TestHost;

/// <summary>The backward one training step uses: the losses of this process's shard and its sample count in, the report out.</summary>
public delegate StepReport ShardBackward(IReadOnlyList<Tensor> losses, long shardSize);

/// <summary>
/// The equivalence scenario of the distributed backward, shared by the test host (every rank trains on its shard) and
/// the tests (one process trains on the whole batch with the core's <see cref="MultiTaskBackward"/>): a float64 MLP
/// with a shared two-layer trunk and <see cref="Tasks"/> linear heads, fixed initial parameters and fixed global
/// batches, a few steps of SGD with momentum.
/// </summary>
/// <remarks>
/// Every random number comes from explicit generators (never the global one), so that tests running in parallel in
/// one process cannot change each other's model or data.
/// </remarks>
public static class TrainingScenario
{
    /// <summary>Samples in each global batch.</summary>
    public const int GlobalBatch = 16;

    /// <summary>Number of tasks (heads).</summary>
    public const int Tasks = 3;

    /// <summary>Number of optimizer steps.</summary>
    public const int Steps = 5;

    private const int Inputs = 4;
    // P = 7·(4 + 7 + 2) = 91 shared parameters: not a multiple of 2, so the column blocks need padding.
    private const int Hidden = 7;

    /// <summary>The seed of the aggregator (PCGrad's task order, GradDrop's samples), the same on every rank.</summary>
    public const long AggregatorSeed = 7;

    /// <summary>
    /// Trains from the fixed initial parameters for <see cref="Steps"/> steps on this process's shard of every global
    /// batch (rows rank·B/R … of it) and returns the final parameters, flattened and concatenated (trunk, then heads).
    /// </summary>
    /// <param name="method">A catalog aggregator, e.g. "pcgrad".</param>
    /// <param name="rank">This process's shard.</param>
    /// <param name="ranks">The number of shards.</param>
    /// <param name="backward">Creates the backward from the aggregator, the shared and the task-specific parameters.</param>
    /// <param name="corrupt">Changes this shard's losses at a step (fault tests), given the step, the losses and the trunk's output.</param>
    /// <param name="dtype">The model's dtype: the initial parameters and the data are drawn in float64 and converted.</param>
    public static double[] Train(
        string method,
        int rank,
        int ranks,
        Func<IAggregator, Parameter[], Parameter[], (ShardBackward Backward, IDisposable Owner)> backward,
        Func<int, Tensor[], Tensor, Tensor[]>? corrupt = null,
        ScalarType dtype = ScalarType.Float64)
    {
        ArgumentNullException.ThrowIfNull(backward);
        using var scope = NewDisposeScope();
        var initial = new Generator(2024);
        Parameter Create(params long[] shape) => new((randn(shape, ScalarType.Float64, generator: initial) * 0.5).to(dtype));
        Parameter[] shared = [Create(Inputs, Hidden), Create(Hidden), Create(Hidden, Hidden), Create(Hidden)];
        Parameter[] heads = [.. Enumerable.Range(0, Tasks).SelectMany(_ => new[] { Create(Hidden, 1), Create(1) })];
        var aggregator = MethodCatalog.CreateAggregator(method, AggregatorSeed);
        var (step, owner) = backward(aggregator, shared, heads);
        using var disposeBackward = owner;
        using var optimizer = optim.SGD([.. shared, .. heads], 0.05, momentum: 0.9);
        var shardSize = GlobalBatch / ranks;
        for (var t = 0; t < Steps; t++)
        {
            using var stepScope = NewDisposeScope();
            var data = new Generator((ulong)(1000 + t));
            var inputs = randn([GlobalBatch, Inputs], ScalarType.Float64, generator: data);
            // Targets that pull the trunk in different directions: a nonlinear function of the inputs per task, plus noise.
            var targets = stack([.. Enumerable.Range(0, Tasks).Select(i => sin(inputs.select(1, i % Inputs) * (i + 1)) - inputs.select(1, (i + 1) % Inputs))], 1)
                + 0.1 * randn([GlobalBatch, Tasks], ScalarType.Float64, generator: data);
            var x = inputs.narrow(0, rank * shardSize, shardSize).to(dtype);
            var y = targets.narrow(0, rank * shardSize, shardSize).to(dtype);
            optimizer.zero_grad();
            var features = tanh(tanh(x.mm(shared[0]) + shared[1]).mm(shared[2]) + shared[3]);
            var losses = Enumerable.Range(0, Tasks)
                .Select(i => (features.mm(heads[2 * i]) + heads[2 * i + 1]).squeeze(1).sub(y.select(1, i)).square().mean())
                .ToArray();
            if (corrupt is not null)
            {
                losses = corrupt(t, losses, features);
            }
            step(losses, shardSize);
            optimizer.step();
        }
        return [.. shared.Concat(heads).SelectMany(p => p.detach().reshape(-1).to(ScalarType.Float64).data<double>().ToArray())];
    }

    /// <summary>The reference: one process, the whole global batch, the core's <see cref="MultiTaskBackward"/>.</summary>
    public static double[] TrainInOneProcess(string method, ScalarType dtype = ScalarType.Float64) =>
        Train(method, 0, 1, (aggregator, shared, heads) =>
        {
            var backward = new MultiTaskBackward(aggregator, shared, heads);
            return ((losses, _) => backward.Backward(losses), backward);
        }, dtype: dtype);
}
