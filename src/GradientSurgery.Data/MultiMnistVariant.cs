namespace GradientSurgery.Data;

/// <summary>
/// The three two-task image benchmarks built by overlaying two 28×28 images (Sener and Koltun, NeurIPS 2018,
/// after Sabour et al., NeurIPS 2017; Fashion variants as in Lin et al., NeurIPS 2019). Task 1 classifies the
/// upper-left image, task 2 the lower-right one.
/// </summary>
public enum MultiMnistVariant
{
    /// <summary>MultiMNIST: both images from MNIST. Command-line name <c>multimnist</c>.</summary>
    MultiMnist,

    /// <summary>MultiFashion: both images from Fashion-MNIST. Command-line name <c>multifashion</c>.</summary>
    MultiFashion,

    /// <summary>Multi-(Fashion+MNIST): left image from MNIST, right image from Fashion-MNIST. Command-line name <c>multifashion-mnist</c>.</summary>
    MultiFashionMnist,
}
