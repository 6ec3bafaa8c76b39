using static TorchSharp.torch;

namespace GradientSurgery.Models;

/// <summary>One forward pass of an <see cref="IMultiTaskNetwork"/>.</summary>
/// <param name="Outputs">Task i's output in entry i.</param>
/// <param name="SharedFeatures">
/// The one tensor through which every task's output depends on the shared parameters, when there is one: everything
/// between it and the outputs is task-specific. Null when shared parameters sit between task-specific ones (cross-stitch
/// units, routed blocks), so that only the parameters path of the multi-task backward applies.
/// </param>
public sealed record MultiTaskOutput(Tensor[] Outputs, Tensor? SharedFeatures);
