using static TorchSharp.torch;

namespace GradientSurgery.Models;

/// <summary>
/// A network with decisions that gradients do not train (a routing network's router), which learns from how its
/// outputs did: the training loop calls <see cref="Reward"/> once after every successful step.
/// </summary>
/// <remarks>
/// What it learns must be part of the module's state (buffers), so that saved models and checkpoints hold it, and its
/// random draws must come from torch's global generator, which checkpoints save, so that a resumed run is exact.
/// </remarks>
public interface IRewardedNetwork
{
    /// <summary>Learns from the step's batch: every task's outputs (as the step's forward pass gave them) and labels.</summary>
    /// <param name="outputs">Task i's outputs of the batch, N×classes.</param>
    /// <param name="labels">Task i's labels of the batch, N class indices (a negative index marks an example without a label for that task).</param>
    void Reward(IReadOnlyList<Tensor> outputs, IReadOnlyList<Tensor> labels);
}
