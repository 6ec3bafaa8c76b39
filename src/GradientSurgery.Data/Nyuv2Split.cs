namespace GradientSurgery.Data;

/// <summary>The two splits of MTAN's preprocessed NYUv2.</summary>
public enum Nyuv2Split
{
    /// <summary>The 795 training images (folder <c>train/</c>).</summary>
    Train,

    /// <summary>The 654 validation images that MTAN and the papers following it report on (folder <c>val/</c>).</summary>
    Validation,
}
