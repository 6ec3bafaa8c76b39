using static TorchSharp.torch;

namespace GradientSurgery.Models;

/// <summary>
/// The intermediate feature maps of one <see cref="SegNetBackbone"/> pass, by level (0 = full resolution), that MTAN's
/// attention modules read.
/// </summary>
/// <param name="EncoderFirst">Level i's first encoder convolution output (u_i, f_i channels).</param>
/// <param name="EncoderOutput">Level i's encoder block output before pooling (p_i, f_i channels).</param>
/// <param name="DecoderFirst">Level i's first decoder convolution output after unpooling (v_i, f_(i−1) channels, f_0 at level 0).</param>
/// <param name="DecoderOutput">Level i's decoder block output (q_i, as many channels as v_i); level 0's is the backbone's output.</param>
public sealed record SegNetStages(Tensor[] EncoderFirst, Tensor[] EncoderOutput, Tensor[] DecoderFirst, Tensor[] DecoderOutput)
{
    /// <summary>The backbone's output: the last decoder block's, f_0 channels at full resolution.</summary>
    public Tensor Output => DecoderOutput[0];
}
