using System.Text.Json.Serialization;

namespace GradientSurgery.Rl;

/// <summary>
/// How an aggregator's T task gradients (the rows of the task Jacobian of MT-SAC's actor or critic) are computed.
/// Both give the same rows up to float rounding; they differ in cost.
/// </summary>
// Written by name in the checkpoints' settings, so that a stored run reads clearly and a reordering cannot change it.
[JsonConverter(typeof(JsonStringEnumConverter<TaskGradients>))]
public enum TaskGradients
{
    /// <summary>
    /// One backward pass of the batch (<see cref="Training.SamplePartitionedBackward"/>): each Linear layer's per-task
    /// gradients from its recorded inputs and output gradients, segmented by task, since every sample belongs to one
    /// task. About the cost of one ordinary backward plus the T×P Jacobian; the default.
    /// </summary>
    OnePass,

    /// <summary>
    /// One backward pass per task loss (<see cref="Training.MultiTaskBackward"/> on the T task means), as the PCGrad
    /// paper's implementation does: each pass runs through the whole graph of the batch, so about T times the backward
    /// cost. For checking <see cref="OnePass"/> and for comparing with the paper's cost.
    /// </summary>
    TaskPasses,
}
