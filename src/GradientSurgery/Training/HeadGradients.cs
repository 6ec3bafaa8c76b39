using GradientSurgery.Aggregation;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// The task-specific parameters' gradients of one step: each head receives exactly its own task's gradient, never
/// a projected or averaged one. A parameter with a declared owner (<see cref="ParameterLayout.Owners"/>) keeps its
/// owner's gradient and drops the other tasks' (a cross-stitch column read by the other columns); an undeclared one
/// that two tasks reach is refused (it is shared and would escape the surgery).
/// </summary>
internal sealed class HeadGradients(ParameterLayout layout)
{
    private readonly Tensor?[] _gradients = new Tensor?[layout.TaskSpecific.Length];
    private readonly int[] _owners = [.. Enumerable.Repeat(-1, layout.TaskSpecific.Length)];

    /// <summary>
    /// Records task <paramref name="task"/>'s gradients of the heads, found in <paramref name="gradients"/> from index
    /// <paramref name="first"/> on: of every task-specific parameter in order, or of those <paramref name="targets"/> lists.
    /// </summary>
    /// <exception cref="InvalidOperationException">A head already received a gradient from another task.</exception>
    public void Collect(int task, IList<Tensor> gradients, int first, int[]? targets = null)
    {
        var count = targets?.Length ?? _gradients.Length;
        for (var position = 0; position < count; position++)
        {
            var k = targets is null ? position : targets[position];
            var gradient = gradients[first + position];
            if (gradient.IsInvalid)
            {
                continue;
            }
            if (layout.Owners[k] >= 0)
            {
                if (layout.Owners[k] == task)
                {
                    _owners[k] = task;
                    _gradients[k] = gradient;
                }
                else
                {
                    gradient.Dispose();
                }
                continue;
            }
            if (_owners[k] >= 0)
            {
                throw new InvalidOperationException(
                    $"Task-specific parameter {k} (shape {Jacobian.ShapeText(layout.TaskSpecific[k])}) receives gradients from tasks {_owners[k]} and {task}. " +
                    "A parameter used by several tasks is shared: declare it with the shared parameters so that it takes part in the surgery.");
            }
            _owners[k] = task;
            _gradients[k] = gradient;
        }
    }

    /// <summary>Task-specific parameter <paramref name="k"/>'s collected gradient, or null when no task reached it.</summary>
    public Tensor? this[int k] => _gradients[k];

    /// <summary>
    /// Replaces the collected gradient of head <paramref name="k"/> (the distributed backward's mean over ranks); its
    /// owner stays the task that reached it here.
    /// </summary>
    /// <exception cref="InvalidOperationException">No task reached this head on this process.</exception>
    public void Replace(int k, Tensor gradient)
    {
        if (_owners[k] < 0)
        {
            throw new InvalidOperationException($"Task-specific parameter {k} received no gradient here, so it has no gradient to replace.");
        }
        _gradients[k] = gradient;
    }

    /// <summary>Throws, naming the task and the parameter, if a head's gradient holds NaN or Inf.</summary>
    /// <exception cref="ArithmeticException">A non-finite head gradient.</exception>
    public void EnsureFinite()
    {
        if (NonFiniteGradient.FirstNonFinite(_gradients) is { } k)
        {
            throw new ArithmeticException(
                $"The gradient of task {_owners[k]} with respect to its task-specific parameter {k} (shape {Jacobian.ShapeText(layout.TaskSpecific[k])}) contains NaN or Inf; no gradient was written." + NonFiniteGradient.Advice);
        }
    }

    /// <summary>Adds each collected gradient to its head's <c>.grad</c>.</summary>
    public void Accumulate()
    {
        using var noGrad = no_grad();
        for (var k = 0; k < _gradients.Length; k++)
        {
            if (_gradients[k] is { } gradient)
            {
                ParameterLayout.Accumulate(layout.TaskSpecific[k], gradient);
            }
        }
    }
}
