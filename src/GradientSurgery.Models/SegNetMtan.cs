using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// MTAN's SegNet for NYUv2 (Liu, Johns &amp; Davison, CVPR 2019; lorenmt/mtan, <c>model_segnet_mtan.py</c>): a shared
/// <see cref="SegNetBackbone"/> and, per task, soft-attention modules at every encoder and decoder level and a
/// <see cref="DenseHead"/> (segmentation logits, depth, unit normals, <see cref="DenseTask"/> order).
/// </summary>
/// <remarks>
/// <para>
/// Task t's attention, with the backbone's maps of <see cref="SegNetStages"/> (u_i, p_i encoder; v_i, q_i decoder) and an
/// attention module g = σ(conv1×1(ReLU(conv1×1(·)))): encoder level 0, a_0 = g(u_0) ⊙ p_0; level i &gt; 0,
/// a_i = g([u_i, s_(i−1)]) ⊙ p_i, where s_i = pool(ReLU(conv3×3(a_i))) brings a_i to the next level (f_i → f_(i+1) channels,
/// f_(L−1) after the last level). Decoder, deepest level first: r = ReLU(conv3×3(upsample(s))) to v_i's channels,
/// a = g([v_i, r]) ⊙ q_i, and s = a for the next level; the head reads level 0's a.
/// </para>
/// <para>
/// Deviations from MTAN: no batch normalisation in the attention modules (as in <see cref="SegNetBackbone"/>), and the
/// attention path's upsampling is nearest-neighbour (MTAN interpolates bilinearly) — the backbone itself max-unpools.
/// </para>
/// <para>
/// The split the surgery sees: the backbone is <b>shared</b>; each task's attention modules and head are <b>its own</b>.
/// The shared representation of the features path is every map the attention modules read — u_i, p_i, v_i, q_i of every
/// level — flattened and packed into one N×D tensor (as <see cref="MtanNetwork"/> packs its blocks), so that everything
/// after it is task-specific and the cheaper features path applies.
/// </para>
/// </remarks>
public sealed class SegNetMtan : MultiTaskModule
{
    private readonly SegNetBackbone backbone;
    private readonly ModuleList<ModuleList<Sequential>> encoderMasks;
    private readonly ModuleList<ModuleList<Sequential>> encoderMatches;
    private readonly ModuleList<ModuleList<Sequential>> decoderMatches;
    private readonly ModuleList<ModuleList<Sequential>> decoderMasks;
    private readonly ModuleList<DenseHead> heads;

    /// <summary>Creates the network; initial weights come from the global torch generator.</summary>
    /// <param name="filters">Channels per level; <see cref="SegNetBackbone.DefaultFilters"/> when null.</param>
    /// <param name="classes">Segmentation classes (13 for NYUv2).</param>
    public SegNetMtan(IReadOnlyList<int>? filters = null, int classes = 13) : base(nameof(SegNetMtan))
    {
        backbone = new SegNetBackbone(filters);
        var f = backbone.Filters;
        var levels = Enumerable.Range(0, f.Count).ToArray();
        var tasks = Enum.GetValues<DenseTask>();
        encoderMasks = new ModuleList<ModuleList<Sequential>>([.. tasks.Select(_ => new ModuleList<Sequential>([.. levels.Select(i => Mask(i == 0 ? f[0] : 2 * f[i], f[i]))]))]);
        encoderMatches = new ModuleList<ModuleList<Sequential>>([.. tasks.Select(_ => new ModuleList<Sequential>([.. levels.Select(i => SegNetBackbone.Conv(f[i], f[Math.Min(i + 1, f.Count - 1)]))]))]);
        decoderMatches = new ModuleList<ModuleList<Sequential>>([.. tasks.Select(_ => new ModuleList<Sequential>([.. levels.Select(i => SegNetBackbone.Conv(f[i], backbone.DecoderChannels(i)))]))]);
        decoderMasks = new ModuleList<ModuleList<Sequential>>([.. tasks.Select(_ => new ModuleList<Sequential>([.. levels.Select(i => Mask(2 * backbone.DecoderChannels(i), backbone.DecoderChannels(i)))]))]);
        heads = new ModuleList<DenseHead>([.. tasks.Select(task => new DenseHead(task, f[0], classes))]);
        Shard = new BatchShard();
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int TaskCount => heads.Count;

    /// <inheritdoc />
    /// <remarks>The network has no random layers; the shard is kept for the interface.</remarks>
    public override BatchShard Shard { get; }

    /// <inheritdoc />
    /// <remarks>The SegNet backbone.</remarks>
    public override IEnumerable<Parameter> SharedParameters => backbone.parameters();

    /// <inheritdoc />
    /// <remarks>Task i's encoder and decoder attention modules and its head.</remarks>
    public override IReadOnlyList<IEnumerable<Parameter>> TaskParameters =>
        [.. Enumerable.Range(0, TaskCount).Select(t => new Module[] { encoderMasks[t], encoderMatches[t], decoderMatches[t], decoderMasks[t], heads[t] }.SelectMany(m => m.parameters()))];

    /// <inheritdoc />
    /// <remarks>The backbone's last convolution weight.</remarks>
    public override Parameter LastSharedLayerWeight => backbone.LastWeight;

    /// <inheritdoc />
    public override MultiTaskOutput Forward(Tensor inputs)
    {
        var stages = backbone.Run(inputs);
        Tensor[] maps = [.. stages.EncoderFirst, .. stages.EncoderOutput, .. stages.DecoderFirst, .. stages.DecoderOutput];
        var features = cat([.. maps.Select(m => m.flatten(1))], 1);
        return new MultiTaskOutput(Attend(features, [.. maps.Select(m => m.shape)]), features);
    }

    /// <summary>Every task's attention and head, reading the backbone's maps from the packed features only.</summary>
    private Tensor[] Attend(Tensor features, long[][] shapes)
    {
        var levels = backbone.Filters.Count;
        var maps = new Tensor[shapes.Length];
        long offset = 0;
        for (var k = 0; k < shapes.Length; k++)
        {
            var size = shapes[k].Skip(1).Aggregate(1L, (a, b) => a * b);
            maps[k] = features.narrow(1, offset, size).reshape(shapes[k]);
            offset += size;
        }
        var (u, p, v, q) = (maps[..levels], maps[levels..(2 * levels)], maps[(2 * levels)..(3 * levels)], maps[(3 * levels)..]);
        return [.. Enumerable.Range(0, TaskCount).Select(t =>
        {
            Tensor? s = null;
            for (var i = 0; i < levels; i++)
            {
                var mask = encoderMasks[t][i].forward(s is null ? u[i] : cat([u[i], s], 1));
                s = functional.max_pool2d(encoderMatches[t][i].forward(mask * p[i]), [2, 2], [2, 2]);
            }
            for (var i = levels - 1; i >= 0; i--)
            {
                var upsampled = functional.interpolate(s!, [q[i].shape[2], q[i].shape[3]], mode: InterpolationMode.Nearest);
                var matched = decoderMatches[t][i].forward(upsampled);
                s = decoderMasks[t][i].forward(cat([v[i], matched], 1)) * q[i];
            }
            return heads[t].forward(s!);
        })];
    }

    /// <summary>MTAN's attention module g: 1×1 convolution, ReLU, 1×1 convolution, sigmoid.</summary>
    private static Sequential Mask(int inChannels, int outChannels) => Sequential(
        ("conv_a", new GemmConv2d(inChannels, outChannels, 1)), ("relu", ReLU()), ("conv_b", new GemmConv2d(outChannels, outChannels, 1)), ("sigmoid", Sigmoid()));
}
