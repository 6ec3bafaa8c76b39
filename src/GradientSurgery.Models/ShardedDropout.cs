using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// Dropout (or, with <c>feature</c>, channel-wise dropout as <c>nn.Dropout2d</c>) whose mask is drawn for the global
/// batch of a <see cref="BatchShard"/> and cut to this shard's rows, so that data-parallel ranks draw what one process
/// would. Without a shard it is libtorch's dropout: the same draws from the global generator
/// (<c>bernoulli_(1 − p)</c> on a tensor of the input's dtype, scaled by 1 / (1 − p)), tested equal bit for bit.
/// </summary>
/// <remarks>Written by hand because libtorch's dropout draws only as many numbers as its input has rows.</remarks>
public sealed class ShardedDropout : Module<Tensor, Tensor>
{
    private readonly double _probability;
    private readonly bool _feature;
    private readonly BatchShard _shard;

    /// <summary>Creates the layer.</summary>
    /// <param name="shard">The model's shard, shared by all its random layers.</param>
    /// <param name="probability">The probability of zeroing an element (a channel with <paramref name="feature"/>).</param>
    /// <param name="feature">Zero whole channels of an N×C×… input, as <c>nn.Dropout2d</c>.</param>
    public ShardedDropout(BatchShard shard, double probability = 0.5, bool feature = false) : base(feature ? "Dropout2d" : "Dropout")
    {
        ArgumentNullException.ThrowIfNull(shard);
        if (!(probability >= 0 && probability < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "The dropout probability must be in [0, 1).");
        }
        _shard = shard;
        _probability = probability;
        _feature = feature;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (!training || _probability == 0)
        {
            return input.alias();
        }
        var rows = input.shape[0];
        var global = _shard.GlobalSize ?? rows;
        if (_shard.Offset + rows > global)
        {
            throw new ArgumentException($"The shard's rows {_shard.Offset}…{_shard.Offset + rows - 1} do not fit its global batch of {global}.", nameof(input));
        }
        using var scope = NewDisposeScope();
        var shape = (long[])input.shape.Clone();
        shape[0] = global;
        if (_feature)
        {
            for (var d = 2; d < shape.Length; d++)
            {
                shape[d] = 1;
            }
        }
        var noise = empty(shape, dtype: input.dtype, device: input.device).bernoulli_(1 - _probability).div_(1 - _probability);
        return input.mul(noise.narrow(0, _shard.Offset, rows)).MoveToOuterDisposeScope();
    }
}
