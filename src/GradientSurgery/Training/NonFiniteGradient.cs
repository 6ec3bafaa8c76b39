namespace GradientSurgery.Training;

/// <summary>The advice that every "gradient contains NaN or Inf" error of the library ends with.</summary>
internal static class NonFiniteGradient
{
    /// <summary>
    /// Points to the known cause of non-finite gradients that appear only sometimes: libtorch's CPU convolution
    /// kernels on some processors (docs/troubleshooting.md), which the library cannot tell from a diverging model.
    /// </summary>
    public const string Advice =
        " If it comes and goes between identical steps, suspect the kernel rather than the model: libtorch's CPU convolutions return non-finite gradients on some processors (GradientSurgery's docs/troubleshooting.md).";
}
