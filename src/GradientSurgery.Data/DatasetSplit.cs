namespace GradientSurgery.Data;

/// <summary>The two splits that MNIST and Fashion-MNIST are distributed in.</summary>
public enum DatasetSplit
{
    /// <summary>The 60,000 training images (<c>train-*-idx?-ubyte.gz</c>).</summary>
    Train,

    /// <summary>The 10,000 test images (<c>t10k-*-idx?-ubyte.gz</c>).</summary>
    Test,
}
