using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Models;

/// <summary>
/// A 2-D convolution (cross-correlation, zero padding, one group) computed as one matrix product: the input's
/// sliding windows are gathered into a (N·H_out·W_out)×(C_in·k_h·k_w) matrix and multiplied by the
/// C_out×(C_in·k_h·k_w) weight. Its parameters, their names (<c>weight</c>, <c>bias</c>), shapes, initialisation
/// and results are those of <c>torch.nn.Conv2d</c>; only the kernels that compute it differ.
/// </summary>
/// <remarks>
/// <para>
/// Why it exists: on some processors (AMD EPYC Zen 5 here) libtorch's CPU convolution — oneDNN's direct
/// convolution kernels — returns non-finite weight gradients in a fraction of backward passes
/// (docs/troubleshooting.md). This layer never calls a convolution kernel: its forward is a strided view, one
/// copy and one GEMM, and its backward is two GEMMs and the fold of the windows (<c>unfold_backward</c>), the same
/// BLAS that linear layers use. Every convolutional model of this project uses it.
/// </para>
/// <para>
/// The output has the strides of the channels-last layout (its logical shape is N×C_out×H_out×W_out, like
/// <c>Conv2d</c>'s): the GEMM writes it that way, and pooling and element-wise layers keep that layout, so no
/// transposing copy is made. Speed on MultiLeNet is measured in docs/troubleshooting.md.
/// </para>
/// </remarks>
public sealed class GemmConv2d : nn.Module<Tensor, Tensor>
{

    /// <summary>Creates the layer; the initial weights come from the global torch generator, drawn as <c>Conv2d</c> draws them.</summary>
    /// <param name="inChannels">Input channels C_in.</param>
    /// <param name="outChannels">Output channels C_out.</param>
    /// <param name="kernelSize">Square kernel size k.</param>
    /// <param name="stride">Step between windows.</param>
    /// <param name="padding">Zeros added on each side of both spatial dimensions.</param>
    /// <param name="dilation">Spacing between kernel elements.</param>
    /// <param name="bias">Whether the layer has a learnable bias.</param>
    /// <param name="dtype">Parameter dtype (float32 by default).</param>
    public GemmConv2d(
        long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, long dilation = 1,
        bool bias = true, ScalarType? dtype = null)
        : base(nameof(GemmConv2d))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernelSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dilation);
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;

        // torch.nn.Conv2d.reset_parameters: Kaiming-uniform weight with a = √5, then a bias uniform in ±1/√fan_in,
        // in that order, so that the same seed gives the same initial weights as Conv2d.
        var weight = new Parameter(empty(outChannels, inChannels, kernelSize, kernelSize, dtype: dtype ?? ScalarType.Float32));
        nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));
        register_parameter("weight", weight);
        if (bias)
        {
            var bound = 1 / Math.Sqrt(inChannels * kernelSize * kernelSize);
            var biasParameter = new Parameter(empty(outChannels, dtype: dtype ?? ScalarType.Float32));
            nn.init.uniform_(biasParameter, -bound, bound);
            register_parameter("bias", biasParameter);
        }
    }

    /// <summary>Input channels.</summary>
    public long InChannels { get; }

    /// <summary>Output channels.</summary>
    public long OutChannels { get; }

    /// <summary>Kernel size (square).</summary>
    public long KernelSize { get; }

    /// <summary>Step between windows.</summary>
    public long Stride { get; }

    /// <summary>Zero padding on each side.</summary>
    public long Padding { get; }

    /// <summary>Spacing between kernel elements.</summary>
    public long Dilation { get; }

    /// <summary>The C_out×C_in×k×k weight.</summary>
    // Looked up, not kept in fields: Module.to(dtype or device) replaces the registered parameters, and a field
    // would go on pointing at the disposed originals.
    public Parameter Weight => get_parameter("weight") ?? throw new InvalidOperationException("GemmConv2d has lost its weight.");

    /// <summary>The bias, or null when the layer has none.</summary>
    public Parameter? Bias => get_parameter("bias");

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var extent = Dilation * (KernelSize - 1) + 1;
        Check(input, extent);
        using var scope = NewDisposeScope();
        var padded = Padding > 0 ? nn.functional.pad(input, [Padding, Padding, Padding, Padding]) : input;
        // N×C×H_out×W_out×extent×extent windows as a view; dilation keeps every Dilation-th element of each window.
        var windows = padded.unfold(2, extent, Stride).unfold(3, extent, Stride);
        if (Dilation > 1)
        {
            windows = windows[TensorIndex.Ellipsis, TensorIndex.Slice(null, null, Dilation), TensorIndex.Slice(null, null, Dilation)];
        }
        var (batch, height, width) = (input.shape[0], windows.shape[2], windows.shape[3]);
        // Rows are output positions, columns (C_in, k_h, k_w) in the weight's order: the one copy of the forward.
        var columns = windows.permute(0, 2, 3, 1, 4, 5).reshape(batch * height * width, InChannels * KernelSize * KernelSize);
        var kernel = Weight.view(OutChannels, -1).t();
        var output = Bias is not { } bias ? columns.mm(kernel) : addmm(bias, columns, kernel, beta: 1, alpha: 1);
        return output.view(batch, height, width, OutChannels).permute(0, 3, 1, 2).MoveToOuterDisposeScope();
    }

    private void Check(Tensor input, long extent)
    {
        if (input.dim() != 4)
        {
            throw new ArgumentException($"{nameof(GemmConv2d)} expects a 4-D input (N×C×H×W), got shape [{string.Join(", ", input.shape)}].", nameof(input));
        }
        if (input.shape[1] != InChannels)
        {
            throw new ArgumentException($"{nameof(GemmConv2d)} has {InChannels} input channels, but the input has {input.shape[1]} (shape [{string.Join(", ", input.shape)}]).", nameof(input));
        }
        var weight = Weight;
        if (input.dtype != weight.dtype || input.device_type != weight.device_type || input.device_index != weight.device_index)
        {
            throw new ArgumentException($"{nameof(GemmConv2d)}'s weight is {weight.dtype} on {weight.device}, the input is {input.dtype} on {input.device}.", nameof(input));
        }
        if (input.shape[2] + 2 * Padding < extent || input.shape[3] + 2 * Padding < extent)
        {
            throw new ArgumentException($"{nameof(GemmConv2d)}'s kernel spans {extent}×{extent} pixels, larger than the padded input {input.shape[2] + 2 * Padding}×{input.shape[3] + 2 * Padding}.", nameof(input));
        }
    }
}
