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
    /// <exception cref="ArgumentException">An empty list, or a loss that is null, not a scalar, not floating point, on another device or not connected.</exception>
    /// <exception cref="ArithmeticException">A loss is NaN or infinite.</exception>
    public static double[] LossValues(IReadOnlyList<Tensor> losses, ParameterLayout layout)
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
            if (!double.IsFinite(values[i]))
            {
                throw new ArithmeticException($"The loss of task {i} is {values[i]}; no gradient was written.");
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
            if (!isfinite(rows[task]).all().item<bool>())
            {
                throw new ArithmeticException($"The gradient of task {task} with respect to {withRespectTo} contains NaN or Inf; no gradient was written." + NonFiniteGradient.Advice);
            }
            throw new ArithmeticException(
                $"The gradient of task {task} with respect to {withRespectTo} is finite but too large for its squared norm to be represented in {rows.dtype}; no gradient was written.");
        }
        return gramian;
    }

    /// <summary>The error for a loss that cannot reach the shared parameters.</summary>
    public static ArgumentException NotConnected(int task, string why) =>
        new($"The loss of task {task} is not connected to the shared parameters: {why}.", "losses");
}
