using GradientSurgery.Models;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Models;

/// <summary>
/// <see cref="ShardedDropout"/> is libtorch's dropout when it sees the whole batch (so MultiLeNet's runs are unchanged),
/// and R shards drawn from generators that start alike put together exactly the whole batch's output.
/// </summary>
public sealed class ShardedDropoutTests
{
    [Theory]
    [InlineData(false, ScalarType.Float32)]
    [InlineData(true, ScalarType.Float32)]
    [InlineData(false, ScalarType.Float64)]
    [InlineData(true, ScalarType.Float64)]
    public void WithoutAShardItIsLibtorchsDropoutBitForBit(bool feature, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var input = randn([64, 20, 4, 4], generator: new Generator(3)).to(dtype);
        using var reference = feature ? nn.Dropout2d(0.5) : (nn.Module<Tensor, Tensor>)nn.Dropout(0.5);
        using var layer = new ShardedDropout(new BatchShard(), 0.5, feature);
        manual_seed(11);
        var expected = reference.forward(input);
        var generatorAfter = rand(1).item<float>();
        manual_seed(11);
        var actual = layer.forward(input);
        Assert.Equal(Values(expected), Values(actual));
        Assert.Equal(generatorAfter, rand(1).item<float>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ShardsPutTogetherTheWholeBatchsOutput(bool feature)
    {
        using var scope = NewDisposeScope();
        var input = randn([12, 5, 3, 3], generator: new Generator(4), dtype: ScalarType.Float64);
        var shard = new BatchShard();
        using var layer = new ShardedDropout(shard, 0.3, feature);
        manual_seed(5);
        var whole = layer.forward(input);
        var parts = new List<Tensor>();
        foreach (var (offset, rows) in new[] { (0L, 4L), (4L, 4L), (8L, 4L) })
        {
            manual_seed(5);
            shard.Select(offset, 12);
            parts.Add(layer.forward(input.narrow(0, offset, rows)));
        }
        Assert.Equal(Values(whole), Values(cat(parts, 0)));
        // Some elements are dropped and some kept (60 channels, or 540 elements, at p = 0.3).
        Assert.InRange(Values(whole).Count(v => v == 0) / (double)whole.numel(), 0.1, 0.5);
    }

    [Fact]
    public void EvaluationModeAndARowOutsideTheGlobalBatch()
    {
        using var scope = NewDisposeScope();
        var shard = new BatchShard();
        using var layer = new ShardedDropout(shard, 0.5);
        var input = ones(6, 3);
        shard.Select(4, 8);
        Assert.Contains("do not fit", Assert.Throws<ArgumentException>(() => layer.forward(input)).Message, StringComparison.Ordinal);
        layer.eval();
        Assert.Equal(Values(input), Values(layer.forward(input)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShardedDropout(shard, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => shard.Select(3, 3));
    }

    private static double[] Values(Tensor tensor) => tensor.to(ScalarType.Float64).contiguous().data<double>().ToArray();
}
