using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// Random Loss Weighting (RLW), "Reasonable Effectiveness of Random Weighting: A Litmus Test for Multi-Task
/// Learning" (Lin, Ye, Zhang and Tsang, TMLR 2022; arXiv 2111.10603), with the paper's default distribution:
/// at every step fresh weights λ = softmax(λ̃) with λ̃ ~ 𝒩(0, I_T), and the update Σ_i λ_i g_i.
/// </summary>
/// <remarks>
/// <para>
/// The weights ignore the gradients: they are positive and sum to 1, with mean 1/T by symmetry. They are
/// drawn with a seeded generator whose state is one 64-bit value (<see cref="IStateful"/>): standard normals
/// by the Box–Muller transform (exact; one normal per pair of uniforms, the sine output is not kept, so that
/// the state stays a single value), then a softmax shifted by the maximum so that it never overflows.
/// </para>
/// <para>
/// The paper weights the losses, so with a shared trunk the task-specific heads also see λ_i times their
/// gradient; here the weighting applies to the Jacobian it is given (the shared parameters in
/// <c>MultiTaskBackward</c>, whose heads receive their own unweighted gradients, as for every aggregator).
/// LibMTL's RLW with its default 'Normal' distribution draws the same kind of weights.
/// </para>
/// </remarks>
public sealed class RLW : RandomizedGramianWeighting
{
    /// <summary>Creates the weighting.</summary>
    /// <param name="seed">Seed of the random weights; the same seed gives the same sequence of weights.</param>
    public RLW(long? seed = null)
        : base(seed, "RLW/1", "RLW")
    {
    }

    /// <summary>Σ_i λ_i g_i with freshly drawn weights: a P-vector of the Jacobian's dtype and device.</summary>
    public override Tensor Aggregate(Tensor jacobian)
    {
        Jacobian.Validate(jacobian);
        return Jacobian.Combine(jacobian, DrawWeights((int)jacobian.shape[0]));
    }

    /// <summary>Freshly drawn weights for the Gramian's number of tasks (the Gramian's values are not used).</summary>
    protected override double[] ComputeWeights(GramianContext context) => DrawWeights(context.Gramian.TaskCount);

    /// <summary>Draws λ = softmax(λ̃), λ̃ ~ 𝒩(0, I), for <paramref name="taskCount"/> tasks.</summary>
    public double[] DrawWeights(int taskCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(taskCount);
        var logits = new double[taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            logits[i] = NextStandardNormal();
        }
        var largest = logits.Max();
        var sum = 0.0;
        for (var i = 0; i < taskCount; i++)
        {
            logits[i] = Math.Exp(logits[i] - largest);
            sum += logits[i];
        }
        for (var i = 0; i < taskCount; i++)
        {
            logits[i] /= sum;
        }
        return logits;
    }

    private double NextStandardNormal()
    {
        // Box–Muller with u1 in (0, 1] so that the logarithm is finite, and u2 in [0, 1).
        var u1 = ((Generator.NextUInt64() >> 11) + 1) * (1.0 / (1UL << 53));
        var u2 = (Generator.NextUInt64() >> 11) * (1.0 / (1UL << 53));
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
