using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>The P-dimensional steps shared by all aggregators: validation, the Gramian, and the combination wᵀJ.</summary>
public static class Jacobian
{
    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="jacobian"/> is a non-empty T×P floating-point matrix.</summary>
    public static void Validate(Tensor jacobian, string parameterName = "jacobian")
    {
        ArgumentNullException.ThrowIfNull(jacobian, parameterName);
        if (jacobian.dim() != 2)
        {
            throw new ArgumentException(
                $"The Jacobian must be a 2-D tensor (tasks × parameters), but it has shape {ShapeText(jacobian)}.", parameterName);
        }
        if (!jacobian.is_floating_point())
        {
            throw new ArgumentException($"The Jacobian must have a floating-point dtype, but it is {jacobian.dtype}.", parameterName);
        }
        if (jacobian.shape[0] < 1 || jacobian.shape[1] < 1)
        {
            throw new ArgumentException(
                $"The Jacobian needs at least one task and one parameter, but it has shape {ShapeText(jacobian)}.", parameterName);
        }
    }

    /// <summary>
    /// G = J Jᵀ as a symmetric T×T float64 array. The product runs on the Jacobian's device in its dtype
    /// (half-precision types are widened to float32 first); only the T×T result is copied to the CPU. A contiguous
    /// float32 Jacobian in CPU memory takes a dedicated kernel when the processor has 256- or 512-bit vectors (AVX2, AVX-512): it computes one
    /// triangle, reads J once, adds up cache-sized column blocks in float64 and is deterministic across thread counts.
    /// </summary>
    public static double[,] Gramian(Tensor jacobian)
    {
        Validate(jacobian);
        if (CpuGramianKernel.Applies(jacobian))
        {
            return CpuGramianKernel.Gramian(jacobian);
        }
        using var scope = NewDisposeScope();
        var work = jacobian.dtype is ScalarType.Float16 or ScalarType.BFloat16 ? jacobian.to(ScalarType.Float32) : jacobian;
        var product = work.mm(work.t()).to(ScalarType.Float64).cpu().contiguous();
        var values = product.data<double>().ToArray();
        var taskCount = (int)jacobian.shape[0];
        var gramian = new double[taskCount, taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            for (var j = 0; j < taskCount; j++)
            {
                // A blocked matrix product may sum (i, j) and (j, i) in different orders; the weightings assume symmetry.
                gramian[i, j] = 0.5 * (values[i * taskCount + j] + values[j * taskCount + i]);
            }
        }
        return gramian;
    }

    /// <summary>The update wᵀJ = Σ_j w_j g_j, a P-vector of the Jacobian's dtype and device.</summary>
    public static Tensor Combine(Tensor jacobian, IReadOnlyList<double> weights)
    {
        Validate(jacobian);
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Count != jacobian.shape[0])
        {
            throw new ArgumentException(
                $"Expected {jacobian.shape[0]} weights (one per task), got {weights.Count}.", nameof(weights));
        }
        using var scope = NewDisposeScope();
        // Half-precision weights would overflow (Nash-MTL's are ~1/‖g_i‖): combine such Jacobians in float32.
        var half = jacobian.dtype is ScalarType.Float16 or ScalarType.BFloat16;
        var work = half ? jacobian.to(ScalarType.Float32) : jacobian;
        var w = tensor(weights.ToArray(), dtype: ScalarType.Float64).to(work.dtype, work.device);
        var update = matmul(w, work);
        return scope.MoveToOuter(half ? update.to(jacobian.dtype) : update);
    }

    internal static string ShapeText(Tensor tensor) => "[" + string.Join(", ", tensor.shape) + "]";
}
