using GradientSurgery.Aggregation;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// The checks of the multi-task backward that stand between the losses and <c>.grad</c>: losses that can be
/// differentiated, and task gradients that are finite. Each failure names the task; nothing is written after one.
/// </summary>
internal static class GradientChecks
{
    /// <summary>Each loss's value, after checking that every loss is a finite floating-point scalar on the shared parameters' device that requires grad.</summary>
    /// <param name="losses">One scalar loss per task.</param>
    /// <param name="layout">The parameters the losses must reach.</param>
    /// <param name="requireFinite">
    /// False leaves the finiteness check to the caller: the distributed backward must first agree across ranks on the
    /// global losses, or a rank that throws alone would leave the others waiting in a collective.
    /// </param>
    /// <exception cref="ArgumentException">An empty list, or a loss that is null, not a scalar, not floating point, on another device or not connected.</exception>
    /// <exception cref="ArithmeticException">A loss is NaN or infinite.</exception>
    public static double[] LossValues(IReadOnlyList<Tensor> losses, ParameterLayout layout, bool requireFinite = true)
    {
        ArgumentNullException.ThrowIfNull(losses);
        if (losses.Count == 0)
        {
            throw new ArgumentException("The list of task losses is empty; pass one scalar loss per task.", nameof(losses));
        }
        var values = new double[losses.Count];
        for (var i = 0; i < losses.Count; i++)
        {
            var loss = losses[i] ?? throw new ArgumentException($"The loss of task {i} is null.", nameof(losses));
            if (loss.numel() != 1)
            {
                throw new ArgumentException(
                    $"The loss of task {i} is not a scalar: it has shape {Jacobian.ShapeText(loss)}. Reduce it (e.g. with .mean()) first.", nameof(losses));
            }
            if (!loss.is_floating_point())
            {
                throw new ArgumentException($"The loss of task {i} has dtype {loss.dtype}; a loss must be floating point.", nameof(losses));
            }
            if (!layout.IsOnDevice(loss))
            {
                throw new ArgumentException(
                    $"The loss of task {i} is on {loss.device}, but the shared parameters are on {layout.Device}.", nameof(losses));
            }
            if (!loss.requires_grad)
            {
                throw NotConnected(i, "it does not require grad");
            }
            values[i] = loss.ToDouble();
            if (requireFinite && !double.IsFinite(values[i]))
            {
                throw NonFiniteLoss(i, values[i]);
            }
        }
        return values;
    }

    /// <summary>
    /// The Gramian of the task gradients, which also serves as their NaN/Inf check: a NaN or ±Inf anywhere in row i
    /// makes G_ii non-finite, so the P-sized rows are scanned only when a diagonal entry says something is wrong.
    /// </summary>
    /// <param name="rows">The T task gradients as rows.</param>
    /// <param name="withRespectTo">What they are gradients of, for the message ("the shared parameters").</param>
    /// <exception cref="ArithmeticException">A task's gradient holds NaN or Inf, or its squared norm overflows.</exception>
    public static double[,] FiniteGramian(Tensor rows, string withRespectTo)
    {
        var gramian = Jacobian.Gramian(rows);
        for (var task = 0; task < gramian.GetLength(0); task++)
        {
            if (double.IsFinite(gramian[task, task]))
            {
                continue;
            }
            throw NonFiniteRow(task, withRespectTo, !isfinite(rows[task]).all().item<bool>(), rows.dtype);
        }
        return gramian;
    }

    /// <summary>The error for a task whose Gramian diagonal entry is not finite: its gradient holds NaN or Inf, or its squared norm overflows.</summary>
    public static ArithmeticException NonFiniteRow(int task, string withRespectTo, bool holdsNonFinite, ScalarType dtype) => holdsNonFinite
        ? new($"The gradient of task {task} with respect to {withRespectTo} contains NaN or Inf; no gradient was written." + NonFiniteGradient.Advice)
        : new($"The gradient of task {task} with respect to {withRespectTo} is finite but too large for its squared norm to be represented in {dtype}; no gradient was written.");

    /// <summary>The error for a loss that is NaN or infinite.</summary>
    public static ArithmeticException NonFiniteLoss(int task, double value, string? where = null) =>
        new($"The loss of task {task} is {value}{where}; no gradient was written.");

    /// <summary>The error for a loss that cannot reach the shared parameters.</summary>
    public static ArgumentException NotConnected(int task, string why) =>
        new($"The loss of task {task} is not connected to the shared parameters: {why}.", "losses");
}
