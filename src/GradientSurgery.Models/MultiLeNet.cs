using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// MultiLeNet, the network of Sener &amp; Koltun (NeurIPS 2018) used by the PCGrad paper on MultiMNIST, a
/// <see cref="HardParameterSharing"/> network: shared trunk conv(1→10, k5) → maxpool 2 → ReLU → conv(10→20, k5) →
/// dropout2d → maxpool 2 → ReLU → flatten (320) → linear(320→50) → ReLU; each task head linear(50→50) → ReLU → dropout
/// → linear(50→10). Input: N×1×28×28 (other image sizes: see the constructor). Dropout probabilities are PyTorch's defaults (0.5), as in the original code; the
/// dropout layers are <see cref="ShardedDropout"/>, libtorch's dropout with masks that data-parallel ranks draw alike.
/// </summary>
public sealed class MultiLeNet : HardParameterSharing
{
    /// <summary>Width of the trunk's output (the shared representation).</summary>
    public const int FeatureSize = 50;

    /// <summary>Creates the network; initial weights come from the global torch generator.</summary>
    /// <param name="tasks">Number of classification heads (2 for MultiMNIST).</param>
    /// <param name="classes">Classes per head.</param>
    /// <param name="convolution">
    /// Builds each convolution from (input channels, output channels, kernel size); <see cref="GemmConv2d"/> by
    /// default. Pass <c>(i, o, k) =&gt; nn.Conv2d(i, o, k)</c> for libtorch's own kernels only on a processor known
    /// not to be affected by their non-finite gradients (docs/troubleshooting.md); both draw the same initial weights.
    /// </param>
    /// <param name="input">The images; MultiMNIST's 1×28×28 when null (other sizes change the trunk's first and linear layers).</param>
    public MultiLeNet(int tasks = 2, int classes = 10, Func<long, long, long, Module<Tensor, Tensor>>? convolution = null, ImageShape? input = null)
        : this(new BatchShard(), tasks, classes, convolution, input ?? ImageShape.MultiMnist)
    {
    }

    private MultiLeNet(BatchShard shard, int tasks, int classes, Func<long, long, long, Module<Tensor, Tensor>>? convolution, ImageShape input)
        : base(nameof(MultiLeNet), Trunk(shard, input, convolution), Heads(shard, tasks, classes), shard)
    {
    }

    /// <summary>
    /// MultiLeNet's trunk: two convolution blocks and a linear layer to <see cref="FeatureSize"/> features; for 1×28×28
    /// images the linear layer reads 20×4×4 = 320 values.
    /// </summary>
    /// <param name="shard">The batch shard its dropout follows.</param>
    /// <param name="input">The images it takes.</param>
    /// <param name="convolution">Builds each convolution; <see cref="GemmConv2d"/> when null.</param>
    public static Sequential Trunk(BatchShard shard, ImageShape input, Func<long, long, long, Module<Tensor, Tensor>>? convolution = null)
    {
        input.EnsureLeNetFits();
        convolution ??= (inChannels, outChannels, kernel) => new GemmConv2d(inChannels, outChannels, kernel);
        return Sequential(
            ("conv1", convolution(input.Channels, 10, 5)), ("pool1", MaxPool2d(2)), ("relu1", ReLU()),
            ("conv2", convolution(10, 20, 5)), ("drop2", new ShardedDropout(shard, feature: true)), ("pool2", MaxPool2d(2)), ("relu2", ReLU()),
            ("flatten", Flatten()), ("fc", Linear(20L * input.SecondBlockSide * input.SecondBlockSide, FeatureSize)), ("relu3", ReLU()));
    }

    /// <summary>One MultiLeNet head: linear(50→50) → ReLU → dropout → linear(50→<paramref name="classes"/>).</summary>
    /// <param name="shard">The batch shard its dropout follows.</param>
    /// <param name="classes">Output classes.</param>
    public static Sequential Head(BatchShard shard, int classes) =>
        Sequential(("fc1", Linear(FeatureSize, 50)), ("relu", ReLU()), ("drop", new ShardedDropout(shard)), ("fc2", Linear(50, classes)));

    private static IEnumerable<Module<Tensor, Tensor>> Heads(BatchShard shard, int tasks, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tasks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        // Built eagerly, after the trunk: the initial weights are drawn in the same order as before.
        return [.. Enumerable.Range(0, tasks).Select(_ => Head(shard, classes))];
    }
}
