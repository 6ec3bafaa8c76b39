using System.Diagnostics;
using GradientSurgery.Aggregation;
using GradientSurgery.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// The multi-task backward of a batch whose samples are partitioned among T tasks (multi-task SAC, a batch mixing
/// several datasets): task t's loss is the mean of its own samples' losses, and <c>.grad</c> receives the aggregator's
/// update of their T×P Jacobian, built in one backward pass by <see cref="SamplePartitionedJacobian"/>.
/// </summary>
/// <remarks>
/// <para>
/// The same data path as <see cref="MultiTaskBackward"/> with every parameter shared: per-sample losses → task
/// Jacobian → Gramian (also the NaN/Inf check, naming the task) → weights → <c>.grad</c> (accumulated, as
/// <c>backward()</c> does). Given the same task losses it writes what <see cref="MultiTaskBackward"/> writes, in one
/// backward pass instead of T. Nothing is written unless every check passes.
/// </para>
/// <para>
/// An aggregator that transforms the losses (DB-MTL's log L_t) gets row t scaled by the transform's derivative at
/// L_t, which is the chain rule for ∇ f(L_t). A task without samples has loss 0 and a zero row.
/// The network must treat samples independently (see <see cref="SamplePartitionedJacobian"/>'s limitation).
/// </para>
/// </remarks>
/// <example>
/// <code>
/// using var backward = new SamplePartitionedBackward(new PCGrad(), critic, critic.parameters());
/// optimizer.zero_grad();
/// Tensor perSample;
/// using (backward.Record())
/// {
///     perSample = SacLosses.Critic(q1, q2, targets); // the forward pass runs inside Record
/// }
/// backward.Backward(perSample, taskIds, taskCount);
/// optimizer.step();
/// </code>
/// </example>
public sealed class SamplePartitionedBackward : IDisposable
{
    private readonly SamplePartitionedJacobian _jacobian;

    /// <summary>Creates the backward over <paramref name="parameters"/>, which belong to <paramref name="module"/>.</summary>
    /// <param name="aggregator">Combines the task Jacobian into one update (e.g. <see cref="PCGrad"/>); created once and reused.</param>
    /// <param name="module">The network whose Linear layers are recorded (see <see cref="SamplePartitionedJacobian"/>).</param>
    /// <param name="parameters">The parameters that receive the update (all shared among the tasks).</param>
    public SamplePartitionedBackward(IAggregator aggregator, nn.Module module, IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(aggregator);
        Aggregator = aggregator;
        _jacobian = new SamplePartitionedJacobian(module, parameters);
    }

    /// <summary>The aggregator applied to the task Jacobian.</summary>
    public IAggregator Aggregator { get; }

    /// <summary>The parameters that receive the update, in the Jacobian's column order.</summary>
    public IReadOnlyList<Parameter> Parameters => _jacobian.Parameters;

    /// <summary>Backward passes the last <see cref="Backward"/> ran (1 when every parameter sits in a Linear layer).</summary>
    public int LastBackwardPasses => _jacobian.LastBackwardPasses;

    /// <summary>Wrap the forward pass whose per-sample losses go to <see cref="Backward"/>; dispose the result after it.</summary>
    public IDisposable Record() => _jacobian.Record();

    /// <summary>Accumulates the aggregated update of the recorded batch's task Jacobian into the parameters' <c>.grad</c>.</summary>
    /// <param name="sampleLosses">Per-sample losses [N] of the recorded forward.</param>
    /// <param name="taskIds">Each sample's task [N], in [0, <paramref name="taskCount"/>).</param>
    /// <param name="taskCount">T.</param>
    /// <returns>The task losses (means over their samples), the weights and the conflicts of the task gradients.</returns>
    /// <exception cref="ArgumentException">Bad shapes, dtypes, devices or ids (see <see cref="SamplePartitionedJacobian.Compute"/>).</exception>
    /// <exception cref="ArithmeticException">A loss or a task's gradient is NaN or infinite; nothing was written.</exception>
    public StepReport Backward(Tensor sampleLosses, Tensor taskIds, int taskCount)
    {
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        var (lossValues, counts) = TaskLosses(sampleLosses, taskIds, taskCount);
        var jacobian = _jacobian.Compute(sampleLosses, taskIds, taskCount);
        var gradientTime = clock.Elapsed;
        if (Aggregator is ILossTransform transform)
        {
            ScaleByTransformDerivative(jacobian, transform, lossValues, counts);
        }
        var gramian = GradientChecks.FiniteGramian(jacobian, "the parameters");
        var (update, weights) = JacobianAggregation.Apply(Aggregator, jacobian, gramian, lossValues);
        _jacobian.Layout.AccumulateShared(update);
        return new StepReport(lossValues, weights, ConflictReport.FromGramian(gramian), GradientScope.SharedParameters, new StepTimings(gradientTime, clock.Elapsed - gradientTime));
    }

    /// <summary>Removes the recording hooks.</summary>
    public void Dispose() => _jacobian.Dispose();

    /// <summary>Each task's mean loss over its samples (0 without samples) and its sample count; a non-finite loss is refused naming its sample and task.</summary>
    private static (double[] Losses, long[] Counts) TaskLosses(Tensor sampleLosses, Tensor taskIds, int taskCount)
    {
        ArgumentNullException.ThrowIfNull(sampleLosses);
        ArgumentNullException.ThrowIfNull(taskIds);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(taskCount);
        if (sampleLosses.dim() != 1 || taskIds.dim() != 1 || sampleLosses.shape[0] != taskIds.shape[0])
        {
            throw new ArgumentException(
                $"Expected per-sample losses [N] and task ids [N]; got {Jacobian.ShapeText(sampleLosses)} and {Jacobian.ShapeText(taskIds)}.", nameof(sampleLosses));
        }
        using var scope = NewDisposeScope();
        var values = sampleLosses.detach().to(ScalarType.Float64).cpu().data<double>().ToArray();
        var ids = taskIds.to(ScalarType.Int64).cpu().data<long>().ToArray();
        var sums = new double[taskCount];
        var counts = new long[taskCount];
        for (var n = 0; n < values.Length; n++)
        {
            if (ids[n] < 0 || ids[n] >= taskCount)
            {
                throw new ArgumentException($"Sample {n} has task id {ids[n]}, outside [0, {taskCount}).", nameof(taskIds));
            }
            if (!double.IsFinite(values[n]))
            {
                throw new ArithmeticException($"The loss of sample {n} (task {ids[n]}) is {values[n]}; no gradient was written.");
            }
            sums[ids[n]] += values[n];
            counts[ids[n]]++;
        }
        return ([.. sums.Select((sum, t) => counts[t] == 0 ? 0 : sum / counts[t])], counts);
    }

    /// <summary>Row t ← f′(L_t) · row t: the gradient of the transformed loss f(L_t) by the chain rule.</summary>
    private void ScaleByTransformDerivative(Tensor jacobian, ILossTransform transform, double[] losses, long[] counts)
    {
        using var _ = NewDisposeScope();
        for (var t = 0; t < losses.Length; t++)
        {
            if (counts[t] == 0)
            {
                continue;
            }
            var loss = tensor(losses[t], dtype: ScalarType.Float64, requires_grad: true);
            var transformed = transform.Transform(loss);
            var slope = autograd.grad([transformed], [loss])[0].ToDouble();
            if (!double.IsFinite(slope) || !double.IsFinite(transformed.ToDouble()))
            {
                throw new ArithmeticException(
                    $"The loss of task {t} is {losses[t]}, where {Aggregator.GetType().Name}'s loss transform or its derivative is not finite; no gradient was written.");
            }
            jacobian[t].mul_(slope);
        }
    }
}
