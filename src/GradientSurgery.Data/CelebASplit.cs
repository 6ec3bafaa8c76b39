namespace GradientSurgery.Data;

/// <summary>The three splits of CelebA, as numbered in <c>list_eval_partition.txt</c>.</summary>
public enum CelebASplit
{
    /// <summary>Partition 0: the 162,770 training images.</summary>
    Train = 0,

    /// <summary>Partition 1: the 19,867 validation images.</summary>
    Validation = 1,

    /// <summary>Partition 2: the 19,962 test images.</summary>
    Test = 2,
}
