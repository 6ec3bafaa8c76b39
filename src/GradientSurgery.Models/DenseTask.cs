namespace GradientSurgery.Models;

/// <summary>NYUv2's three dense tasks, in the order of the networks' outputs.</summary>
public enum DenseTask
{
    /// <summary>13-class semantic segmentation: N×13×H×W logits.</summary>
    Segmentation,

    /// <summary>Depth: N×1×H×W.</summary>
    Depth,

    /// <summary>Surface normals: N×3×H×W unit vectors.</summary>
    Normal,
}
