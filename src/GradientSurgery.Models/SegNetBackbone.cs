using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// A SegNet encoder–decoder (Badrinarayanan et al., 2017) as MTAN uses it for NYUv2 (lorenmt/mtan,
/// <c>model_segnet_split.py</c>): L levels; encoder level i is two 3×3 convolutions (f_(i−1) → f_i → f_i, ReLU) and a 2×2
/// max-pool that keeps its indices; decoder level i (deepest first) max-unpools with level i's indices and applies two 3×3
/// convolutions (f_i → f_(i−1) → f_(i−1), f_0 at level 0). The output has f_0 channels at the input's resolution.
/// </summary>
/// <remarks>
/// <para>
/// Widths: <see cref="DefaultFilters"/> [16, 32, 64, 128, 128] so that it trains on a CPU; MTAN's are
/// <see cref="PaperFilters"/> [64, 128, 256, 512, 512] on 3×288×384 images. The height and width must be multiples of
/// 2^L (32 for five levels; 288×384 is). Even the default widths are slow at MTAN's image size on a CPU: one PCGrad step of 2
/// images of 3×288×384 took about 27 s with <see cref="SegNetSplit"/> and 90 s with <see cref="SegNetMtan"/> (Debug build,
/// two busy cores).
/// </para>
/// <para>
/// Deviations from MTAN's SegNet: two convolutions at every level (MTAN has three at the three deepest), and no batch
/// normalisation — its running statistics are state outside the parameters that the surgery's shared/task split does not
/// cover and that eval mode would swap in; every other network of the project has none either. All convolutions are
/// <see cref="GemmConv2d"/>. Pooling is SegNet's: max-pool with indices and max-unpool (TorchSharp has both).
/// </para>
/// </remarks>
public sealed class SegNetBackbone : Module<Tensor, Tensor>
{
    private readonly ModuleList<Sequential> encoderFirst;
    private readonly ModuleList<Sequential> encoderSecond;
    private readonly ModuleList<Sequential> decoderFirst;
    private readonly ModuleList<Sequential> decoderSecond;

    /// <summary>The widths this project trains with by default: [16, 32, 64, 128, 128].</summary>
    public static IReadOnlyList<int> DefaultFilters { get; } = [16, 32, 64, 128, 128];

    /// <summary>MTAN's widths: [64, 128, 256, 512, 512] (for 3×288×384 images; far too slow on a CPU).</summary>
    public static IReadOnlyList<int> PaperFilters { get; } = [64, 128, 256, 512, 512];

    /// <summary>Creates the backbone; initial weights come from the global torch generator.</summary>
    /// <param name="filters">Channels per level f_0 … f_(L−1); <see cref="DefaultFilters"/> when null.</param>
    /// <param name="inputChannels">Image channels (3 for RGB).</param>
    public SegNetBackbone(IReadOnlyList<int>? filters = null, int inputChannels = 3) : base(nameof(SegNetBackbone))
    {
        Filters = [.. filters ?? DefaultFilters];
        if (Filters.Count == 0 || Filters.Any(f => f <= 0))
        {
            throw new ArgumentException($"The filters must be one or more positive channel counts, got [{string.Join(", ", Filters)}].", nameof(filters));
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputChannels);
        var levels = Enumerable.Range(0, Filters.Count).ToArray();
        encoderFirst = new ModuleList<Sequential>([.. levels.Select(i => Conv(i == 0 ? inputChannels : Filters[i - 1], Filters[i]))]);
        encoderSecond = new ModuleList<Sequential>([.. levels.Select(i => Conv(Filters[i], Filters[i]))]);
        // The decoder's lists run deepest level first, in the order of the computation, so that the last weight registered
        // (HardParameterSharing's last shared layer) is the last layer's.
        var deepestFirst = levels.Reverse().ToArray();
        decoderFirst = new ModuleList<Sequential>([.. deepestFirst.Select(i => Conv(Filters[i], DecoderChannels(i)))]);
        decoderSecond = new ModuleList<Sequential>([.. deepestFirst.Select(i => Conv(DecoderChannels(i), DecoderChannels(i)))]);
        RegisterComponents();
    }

    /// <summary>Channels per level.</summary>
    public IReadOnlyList<int> Filters { get; }

    /// <summary>The number the height and width must be multiples of: 2^L.</summary>
    public int Divisor => 1 << Filters.Count;

    /// <summary>The channels of decoder level <paramref name="level"/>'s output: f_(level−1), f_0 at level 0.</summary>
    public int DecoderChannels(int level) => Filters[Math.Max(level - 1, 0)];

    /// <summary>The last convolution's weight (decoder level 0's second): the last shared layer.</summary>
    public Parameter LastWeight => decoderSecond[^1].parameters().First(p => p.dim() >= 2);

    /// <summary>A 3×3 convolution keeping the resolution, then ReLU.</summary>
    internal static Sequential Conv(int inChannels, int outChannels) =>
        Sequential(("conv", new GemmConv2d(inChannels, outChannels, 3, padding: 1)), ("relu", ReLU()));

    /// <summary>One pass, keeping every level's feature maps.</summary>
    /// <param name="images">N×C×H×W with H and W multiples of <see cref="Divisor"/>.</param>
    /// <exception cref="ArgumentException">The images do not fit.</exception>
    public SegNetStages Run(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4 || images.shape[2] % Divisor != 0 || images.shape[3] % Divisor != 0 || images.shape[2] == 0 || images.shape[3] == 0)
        {
            throw new ArgumentException(
                $"SegNet with {Filters.Count} levels takes N×C×H×W images whose height and width are positive multiples of {Divisor}; got [{string.Join(", ", images.shape)}].", nameof(images));
        }
        var levels = Filters.Count;
        var (u, p, v, q) = (new Tensor[levels], new Tensor[levels], new Tensor[levels], new Tensor[levels]);
        var indices = new Tensor[levels];
        var x = images;
        for (var i = 0; i < levels; i++)
        {
            u[i] = encoderFirst[i].forward(x);
            p[i] = encoderSecond[i].forward(u[i]);
            (x, indices[i]) = functional.max_pool2d_with_indices(p[i], [2, 2], [2, 2]);
        }
        for (var i = levels - 1; i >= 0; i--)
        {
            // Kernel and stride 2 give twice the side, which is p_i's: the sides are multiples of 2^L. (No output size is
            // passed: TorchSharp 0.107's binding does not hand it on to libtorch.)
            var unpooled = functional.max_unpool2d(x, indices[i], [2, 2]);
            v[i] = decoderFirst[levels - 1 - i].forward(unpooled);
            q[i] = decoderSecond[levels - 1 - i].forward(v[i]);
            x = q[i];
        }
        return new SegNetStages(u, p, v, q);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => Run(input).Output;
}
