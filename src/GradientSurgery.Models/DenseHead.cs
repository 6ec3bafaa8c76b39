using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// One task's prediction head of a dense network, as MTAN's SegNet has it: a 3×3 convolution (f_0 → f_0, ReLU) and a
/// 1×1 convolution to the task's channels — 13 segmentation logits, 1 depth, or 3 normal components scaled to unit length.
/// </summary>
public sealed class DenseHead : Module<Tensor, Tensor>
{
    private readonly Sequential hidden;
    private readonly GemmConv2d output;
    private readonly bool _unit;

    /// <summary>Creates the head; initial weights come from the global torch generator.</summary>
    /// <param name="task">The task.</param>
    /// <param name="channels">The features' channels f_0.</param>
    /// <param name="classes">Segmentation classes (13 for NYUv2).</param>
    public DenseHead(DenseTask task, int channels, int classes = 13) : base(nameof(DenseHead))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        hidden = SegNetBackbone.Conv(channels, channels);
        output = new GemmConv2d(channels, task switch
        {
            DenseTask.Segmentation => classes,
            DenseTask.Depth => 1,
            DenseTask.Normal => 3,
            _ => throw new ArgumentOutOfRangeException(nameof(task), task, "Unknown dense task."),
        }, 1);
        _unit = task == DenseTask.Normal;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var y = output.forward(hidden.forward(input));
        // MTAN divides by the L2 norm; the floor keeps an all-zero prediction finite.
        return _unit ? y / y.norm(1, keepdim: true).clamp_min(1e-12) : y;
    }
}
