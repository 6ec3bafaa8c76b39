using System.Diagnostics;
using System.Runtime.InteropServices;
using GradientSurgery.Aggregation;
using GradientSurgery.Diagnostics;
using GradientSurgery.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Distributed;

/// <summary>How <see cref="DistributedMultiTaskBackward"/> turns the ranks' shard Jacobians into the global one.</summary>
public enum JacobianReduction
{
    /// <summary>
    /// For a <see cref="GramianWeighting"/>: a reduce-scatter of J over column blocks, each rank's partial Gramian of
    /// its block, an all-reduce of the T×T partial Gramians, each rank's block of the update wᵀJ and an all-gather of
    /// the update: about half the traffic of an all-reduce of J and 1/R of the Gramian work per rank. Other
    /// aggregators need the whole Jacobian and fall back to <see cref="AllReduce"/>.
    /// </summary>
    ReduceScatter,

    /// <summary>An all-reduce of the whole Jacobian (in buckets), then the aggregator on every rank.</summary>
    AllReduce,
}

/// <summary>
/// The data-parallel <see cref="MultiTaskBackward"/>: every rank of an MPI job passes the losses of its shard of the
/// global batch, and every rank's <c>.grad</c> receives the surgery of the GLOBAL batch's task Jacobian, identical on
/// every rank, so that every rank's <c>optimizer.step()</c> keeps the replicas identical.
/// </summary>
/// <remarks>
/// <para>
/// Each task's global loss is the mean over the whole global batch. With shards of equal size, the global Jacobian
/// is therefore the mean J = (1/R) Σ_r J_r of the shard Jacobians, the global losses are the means of the shard
/// losses and a head's gradient is the mean of its shard gradients. Every call passes its shard's sample count and
/// shards of different sizes are refused (the mean would weight their samples unequally).
/// </para>
/// <para>
/// The result equals one process's <see cref="MultiTaskBackward"/> on the whole batch up to rounding, not bit for
/// bit: the sum of the shard Jacobians associates the per-sample terms differently from one backward pass over the
/// batch. To keep the replicas bit-identical anyway, whatever rank 0 decides is broadcast (its Gramian and weights,
/// or its update): MPI does not promise that an all-reduce leaves bit-identical results on every rank (the order of
/// the sums may depend on the rank), and replicas that drift apart by one bit per step would diverge.
/// </para>
/// <para>
/// Every check that can fail is decided on values that every rank shares, so that every rank throws the same
/// exception (naming the task) instead of one rank throwing while the others wait in a collective: a NaN loss on one
/// rank makes the global mean NaN everywhere, a NaN gradient makes the global Gramian's diagonal NaN everywhere.
/// Collectives follow MPI's rules: every rank calls <c>Backward</c> at the same point with the same number of tasks.
/// Shared and task-specific parameters must be float32 or float64 CPU tensors (the collectives run on host memory).
/// Not supported yet: aggregators with a loss transform (DB-MTL: log L of the global loss is not the mean of the
/// shards' log L) and MGDA-UB's representation Gramian on the features path. An instance is not thread-safe.
/// </para>
/// </remarks>
public sealed class DistributedMultiTaskBackward : IDisposable
{
    private readonly MultiTaskBackward _local;
    private readonly ParameterLayout _layout;
    private readonly MpiCommunicator _world;
    private readonly long _bucketBytes;

    /// <summary>Creates the backward for one model replica; collective (every rank creates it at the same point).</summary>
    /// <param name="aggregator">Combines the global shared-parameter Jacobian into one update, created alike (same seed) on every rank.</param>
    /// <param name="sharedParameters">The parameters every task depends on (the trunk). One dtype (float32 or float64), on the CPU.</param>
    /// <param name="taskSpecificParameters">All other trainable parameters (the heads). Each receives its own task's gradient, averaged over the ranks.</param>
    /// <param name="communicator">The ranks that share the global batch.</param>
    /// <param name="reduction">How the Jacobian is reduced across ranks.</param>
    /// <param name="bucketBytes">The most bytes one collective call carries.</param>
    /// <exception cref="NotSupportedException">An aggregator with a loss transform.</exception>
    /// <exception cref="ArgumentException">Parameters that are not on the CPU or not float32/float64.</exception>
    /// <exception cref="InvalidOperationException">The ranks disagree on the aggregator, the reduction or the parameter shapes
    /// (checked first, on every rank, so that a mismatch fails at start-up instead of hanging a later collective).</exception>
    public DistributedMultiTaskBackward(
        IAggregator aggregator,
        IEnumerable<Parameter> sharedParameters,
        IEnumerable<Parameter> taskSpecificParameters,
        MpiCommunicator communicator,
        JacobianReduction reduction = JacobianReduction.ReduceScatter,
        long bucketBytes = MpiCommunicator.DefaultBucketBytes)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        _local = new MultiTaskBackward(aggregator, sharedParameters, taskSpecificParameters);
        _layout = _local.Layout;
        _world = communicator;
        _bucketBytes = bucketBytes;
        Reduction = reduction;
        // First the collective agreement, then the local refusals: a rank that refused before the collective would
        // leave the others waiting in it if the ranks disagreed.
        communicator.VerifySame(
            "distributed backward settings",
            $"{aggregator.GetType().FullName} {reduction} {_layout.Dtype} shared {Shapes(_layout.Shared)} heads {Shapes(_layout.TaskSpecific)}",
            "aggregator, Jacobian reduction, dtype or parameter shapes differ");
        if (aggregator is ILossTransform)
        {
            throw new NotSupportedException(
                $"{aggregator.GetType().Name} transforms the losses before the surgery; the transform of the global loss is not the mean of the shards' transforms, so it is not distributed yet.");
        }
        Parameter[] all = [.. _layout.Shared, .. _layout.TaskSpecific];
        if (all.FirstOrDefault(p => p.device_type != DeviceType.CPU || (p.dtype != ScalarType.Float32 && p.dtype != ScalarType.Float64)) is { } unsupported)
        {
            throw new ArgumentException(
                $"A parameter of shape {Jacobian.ShapeText(unsupported)} is {unsupported.dtype} on {unsupported.device}; the distributed backward needs float32 or float64 parameters on the CPU.",
                nameof(sharedParameters));
        }
    }

    /// <summary>The aggregator applied to the global shared-parameter Jacobian.</summary>
    public IAggregator Aggregator => _local.Aggregator;

    /// <summary>How the Jacobian is reduced across ranks.</summary>
    public JacobianReduction Reduction { get; }

    /// <summary>Number of shared scalar parameters P (the Jacobian's width).</summary>
    public long SharedParameterCount => _layout.SharedSize;

    /// <summary>Parameters path on this rank's shard (see <see cref="MultiTaskBackward.Backward(IReadOnlyList{Tensor})"/>); collective.</summary>
    /// <param name="losses">Each task's loss: the mean over this rank's shard.</param>
    /// <param name="shardSize">The number of samples in this rank's shard; equal on every rank.</param>
    /// <returns>The step of the global batch: global mean losses, the weights and the global Gramian's conflicts.</returns>
    public StepReport Backward(IReadOnlyList<Tensor> losses, long shardSize) => Run(losses, null, shardSize);

    /// <summary>Features path on this rank's shard (see <see cref="MultiTaskBackward.Backward(IReadOnlyList{Tensor}, Tensor)"/>); collective.</summary>
    /// <param name="losses">Each task's loss: the mean over this rank's shard.</param>
    /// <param name="sharedFeatures">The trunk's output on this rank's shard.</param>
    /// <param name="shardSize">The number of samples in this rank's shard; equal on every rank.</param>
    public StepReport Backward(IReadOnlyList<Tensor> losses, Tensor sharedFeatures, long shardSize)
    {
        ArgumentNullException.ThrowIfNull(sharedFeatures);
        return Run(losses, [sharedFeatures], shardSize);
    }

    /// <summary>Frees the reusable Jacobian storage.</summary>
    public void Dispose() => _local.Dispose();

    private StepReport Run(IReadOnlyList<Tensor> losses, IReadOnlyList<Tensor>? features, long shardSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shardSize);
        if (features is not null && Aggregator is GramianWeighting { UsesRepresentationGramian: true })
        {
            throw new NotSupportedException(
                $"{Aggregator.GetType().Name} takes its weights from the shared representation's Gramian on the features path, which is not distributed yet; call Backward without the features.");
        }
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        var lossValues = GlobalLosses(losses, shardSize);
        var heads = new HeadGradients(_layout);
        var jacobian = _local.TaskJacobian(losses, features, heads);
        var gradientTime = clock.Elapsed;
        var (update, weights, gramian) = Aggregator is GramianWeighting weighting && Reduction == JacobianReduction.ReduceScatter
            ? ByColumnBlocks(weighting, jacobian, heads, lossValues)
            : ByAllReduce(jacobian, heads, lossValues);
        _layout.AccumulateShared(update);
        heads.Accumulate();
        return new StepReport(lossValues, weights, ConflictReport.FromGramian(gramian), GradientScope.SharedParameters, new StepTimings(gradientTime, clock.Elapsed - gradientTime));
    }

    /// <summary>The global batch's losses (the means of the shards'), after checking that the shards are equal and the losses finite.</summary>
    private double[] GlobalLosses(IReadOnlyList<Tensor> losses, long shardSize)
    {
        // The structural checks (scalar, connected, device) fail alike on every rank of one program; finiteness may
        // differ between shards, so it is judged on the global means below.
        var values = GradientChecks.LossValues(losses, _layout, requireFinite: false);
        var largest = _world.AllReduceMax(shardSize);
        var smallest = -_world.AllReduceMax(-shardSize);
        if (largest != smallest)
        {
            throw new ArgumentException(
                $"The ranks' shards have {smallest} to {largest} samples; the distributed backward averages the shards' losses and Jacobians, which is the global batch's mean only for shards of equal size. Split the global batch evenly (its size a multiple of {_world.Size}).",
                nameof(shardSize));
        }
        _world.AllReduceSum(values);
        for (var i = 0; i < values.Length; i++)
        {
            values[i] /= _world.Size;
            if (!double.IsFinite(values[i]))
            {
                throw GradientChecks.NonFiniteLoss(i, values[i], $" (the mean over {_world.Size} ranks' shards)");
            }
        }
        return values;
    }

    /// <summary>The reduce-scatter path for a Gramian weighting: the update wᵀJ, the weights and the global Gramian.</summary>
    private (Tensor Update, double[] Weights, double[,] Gramian) ByColumnBlocks(GramianWeighting weighting, Tensor jacobian, HeadGradients heads, double[] lossValues)
    {
        var ranks = _world.Size;
        var taskCount = (int)jacobian.shape[0];
        var width = _layout.SharedSize;
        // P padded to a multiple of R, so that every rank owns a block of the same width (the padding is zeros, which
        // add nothing to the Gramian and are cut off the update).
        var blockWidth = (width + ranks - 1) / ranks;
        var padded = blockWidth * ranks;
        var source = jacobian;
        if (padded != width)
        {
            source = zeros(taskCount, padded, dtype: jacobian.dtype);
            source.narrow(1, 0, width).copy_(jacobian);
        }
        // Rank-major blocks: block b (the T×blockWidth columns b·blockWidth…) is contiguous, as MPI's reduce-scatter
        // expects its R send blocks.
        var send = source.view(taskCount, ranks, blockWidth).permute(1, 0, 2).contiguous();
        var block = empty(taskCount, blockWidth, dtype: jacobian.dtype);
        ReduceScatter(send, block);
        block.div_(ranks);

        var gramian = GlobalGramian(block, taskCount);
        ReduceHeads(heads);
        heads.EnsureFinite();
        // Every rank computes the weights (so that stateful weightings advance alike), then takes rank 0's.
        var weights = weighting.Weights(new GramianContext(CheckedGramian.From(gramian), lossValues, GradientScope.SharedParameters));
        _world.Broadcast<double>(weights, root: 0);

        var partial = Jacobian.Combine(block, weights).contiguous();
        var full = empty(padded, dtype: jacobian.dtype);
        AllGather(partial, full);
        return (full.narrow(0, 0, width), weights, gramian);
    }

    /// <summary>G = Σ_b J_b J_bᵀ over the ranks' column blocks, rank 0's sum on every rank, after the finiteness check that names the task.</summary>
    private double[,] GlobalGramian(Tensor block, int taskCount)
    {
        var partial = Jacobian.Gramian(block);
        var flat = new double[taskCount * taskCount];
        Buffer.BlockCopy(partial, 0, flat, 0, flat.Length * sizeof(double));
        _world.AllReduceSum(flat);
        // Every decision below (the checks, the weights) is taken on bit-identical values on every rank.
        _world.Broadcast<double>(flat, root: 0);
        var gramian = new double[taskCount, taskCount];
        Buffer.BlockCopy(flat, 0, gramian, 0, flat.Length * sizeof(double));
        for (var task = 0; task < taskCount; task++)
        {
            if (double.IsFinite(gramian[task, task]))
            {
                continue;
            }
            // Rare, so only now: which rows hold a NaN or Inf in some rank's block (an exact count, the same everywhere).
            var nonFinite = new double[taskCount];
            for (var i = 0; i < taskCount; i++)
            {
                nonFinite[i] = isfinite(block[i]).all().item<bool>() ? 0 : 1;
            }
            _world.AllReduceSum(nonFinite);
            throw GradientChecks.NonFiniteRow(task, "the shared parameters", nonFinite[task] > 0, block.dtype);
        }
        return gramian;
    }

    /// <summary>The all-reduce path: the whole global Jacobian on every rank, then the aggregator; rank 0's update and weights.</summary>
    private (Tensor Update, double[]? Weights, double[,] Gramian) ByAllReduce(Tensor jacobian, HeadGradients heads, double[] lossValues)
    {
        // In place in the Jacobian builder's buffer, which the next step overwrites anyway.
        _world.AllReduceSum(jacobian, _bucketBytes);
        jacobian.div_(_world.Size);
        var gramian = GradientChecks.FiniteGramian(jacobian, "the shared parameters");
        ReduceHeads(heads);
        heads.EnsureFinite();
        // Every rank runs the aggregator (an aggregator with randomness, seeded alike, draws the same numbers and
        // advances its state alike); rank 0's result is then everyone's.
        var (update, weights) = JacobianAggregation.Apply(Aggregator, jacobian, gramian, lossValues);
        update = update.contiguous();
        Broadcast(update);
        if (weights is not null)
        {
            _world.Broadcast<double>(weights, root: 0);
        }
        return (update, weights, gramian);
    }

    /// <summary>
    /// Replaces every head's gradient by its mean over the ranks (as ordinary data parallelism does), in one
    /// all-reduce; a count of the ranks that reached each head travels along, so that a head reached on some ranks
    /// only is refused on every rank rather than updated on some.
    /// </summary>
    private void ReduceHeads(HeadGradients heads)
    {
        var parameters = _layout.TaskSpecific;
        if (parameters.Length == 0)
        {
            return;
        }
        var total = parameters.Sum(p => p.numel());
        var flat = zeros(total + parameters.Length, dtype: _layout.Dtype);
        long offset = 0;
        for (var k = 0; k < parameters.Length; k++)
        {
            if (heads[k] is { } gradient)
            {
                flat.narrow(0, offset, parameters[k].numel()).copy_(gradient.reshape(-1));
                flat[total + k].fill_(1);
            }
            offset += parameters[k].numel();
        }
        _world.AllReduceSum(flat, _bucketBytes);
        var reached = flat.narrow(0, total, parameters.Length).to(ScalarType.Float64).data<double>().ToArray();
        offset = 0;
        for (var k = 0; k < parameters.Length; k++)
        {
            var count = (long)Math.Round(reached[k]);
            if (count != 0 && count != _world.Size)
            {
                throw new InvalidOperationException(
                    $"Task-specific parameter {k} (shape {Jacobian.ShapeText(parameters[k])}) received a gradient on {count} of {_world.Size} ranks; every rank's shard must reach the same heads.");
            }
            if (count == _world.Size)
            {
                heads.Replace(k, flat.narrow(0, offset, parameters[k].numel()).div(_world.Size).to(parameters[k].dtype).view_as(parameters[k]));
            }
            offset += parameters[k].numel();
        }
    }

    private void ReduceScatter(Tensor send, Tensor receive)
    {
        if (send.dtype == ScalarType.Float64)
        {
            _world.ReduceScatterBlockSum(Values<double>(send), Values<double>(receive), _bucketBytes);
        }
        else
        {
            _world.ReduceScatterBlockSum(Values<float>(send), Values<float>(receive), _bucketBytes);
        }
    }

    private void AllGather(Tensor send, Tensor receive)
    {
        if (send.dtype == ScalarType.Float64)
        {
            _world.AllGather<double>(Values<double>(send), Values<double>(receive), _bucketBytes);
        }
        else
        {
            _world.AllGather<float>(Values<float>(send), Values<float>(receive), _bucketBytes);
        }
    }

    private void Broadcast(Tensor data)
    {
        if (data.dtype == ScalarType.Float64)
        {
            _world.Broadcast(Values<double>(data), root: 0, _bucketBytes);
        }
        else
        {
            _world.Broadcast(Values<float>(data), root: 0, _bucketBytes);
        }
    }

    /// <summary>
    /// The elements of a contiguous CPU tensor, in its memory (no copy); valid while the tensor lives. TorchSharp's
    /// byte span limits one tensor to 2 GiB, so the T×P Jacobian of one rank must stay below it for now.
    /// </summary>
    private static Span<T> Values<T>(Tensor tensor)
        where T : unmanaged
    {
        Debug.Assert(tensor.is_contiguous() && tensor.device_type == DeviceType.CPU);
        return MemoryMarshal.Cast<byte, T>(tensor.bytes);
    }

    private static string Shapes(Parameter[] parameters) => string.Join(",", parameters.Select(Jacobian.ShapeText));
}
