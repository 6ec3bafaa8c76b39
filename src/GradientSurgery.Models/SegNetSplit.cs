namespace GradientSurgery.Models;

/// <summary>
/// Hard parameter sharing for NYUv2, MTAN's "split" baseline (lorenmt/mtan, <c>model_segnet_split.py</c>): one
/// <see cref="SegNetBackbone"/> shared by the three tasks and one <see cref="DenseHead"/> per task (segmentation logits,
/// depth, unit normals, <see cref="DenseTask"/> order).
/// </summary>
/// <remarks>
/// The backbone is <b>shared</b> (the surgery's parameters); each head is <b>its task's own</b>. The shared representation of
/// the features path is the backbone's output (N×f_0×H×W), which every head reads. Width: see <see cref="SegNetBackbone"/>.
/// </remarks>
public sealed class SegNetSplit : HardParameterSharing
{
    /// <summary>Creates the network; initial weights come from the global torch generator.</summary>
    /// <param name="filters">Channels per level; <see cref="SegNetBackbone.DefaultFilters"/> when null.</param>
    /// <param name="classes">Segmentation classes (13 for NYUv2).</param>
    public SegNetSplit(IReadOnlyList<int>? filters = null, int classes = 13)
        : this(new SegNetBackbone(filters), classes)
    {
    }

    private SegNetSplit(SegNetBackbone backbone, int classes)
        : base(nameof(SegNetSplit), backbone, Enum.GetValues<DenseTask>().Select(task => new DenseHead(task, backbone.Filters[0], classes)), null)
    {
    }
}
