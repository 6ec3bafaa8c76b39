using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery;

/// <summary>
/// The shortest way in, shaped like <c>loss.backward()</c> and like TorchJD's <c>mtl_backward</c>: between
/// <c>optimizer.zero_grad()</c> and <c>optimizer.step()</c>, <see cref="Backward"/> fills <c>.grad</c> from T losses
/// with gradient surgery on the shared parameters.
/// </summary>
/// <example>
/// <code>
/// optimizer.zero_grad();
/// MultiTask.Backward([lossA, lossB], pcgrad, trunk.parameters(), heads.parameters(), features);
/// optimizer.step();
/// </code>
/// </example>
public static class MultiTask
{
    /// <summary>
    /// The multi-task backward: shared parameters receive the aggregator's update of their task Jacobian, each
    /// task-specific parameter its own task's gradient (accumulated into <c>.grad</c>, as <c>backward()</c> does).
    /// </summary>
    /// <param name="losses">The T scalar task losses.</param>
    /// <param name="aggregator">The method, created once and reused across steps (e.g. <see cref="PCGrad"/>; it may keep state).</param>
    /// <param name="sharedParameters">The parameters every task depends on (the trunk).</param>
    /// <param name="taskSpecificParameters">The other trainable parameters (the heads).</param>
    /// <param name="sharedFeatures">
    /// The trunk's output, when the model has one: the per-task passes then run through the heads and the trunk
    /// separately (cheaper, same result), and MGDA-UB can weight by it.
    /// </param>
    /// <returns>The losses, the task weights and the conflicts of the task gradients.</returns>
    /// <remarks>
    /// Each call allocates the T×P Jacobian afresh; a training loop that runs many steps saves that with an
    /// <see cref="AggregationStep"/> (or <see cref="MultiTaskBackward"/>), which keeps it between steps.
    /// </remarks>
    public static StepReport Backward(
        IReadOnlyList<Tensor> losses, IAggregator aggregator, IEnumerable<Parameter> sharedParameters,
        IEnumerable<Parameter> taskSpecificParameters, Tensor? sharedFeatures = null)
    {
        using var backward = new MultiTaskBackward(aggregator, sharedParameters, taskSpecificParameters);
        return sharedFeatures is null ? backward.Backward(losses) : backward.Backward(losses, sharedFeatures);
    }
}
