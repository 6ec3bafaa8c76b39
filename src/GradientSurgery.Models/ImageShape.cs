namespace GradientSurgery.Models;

/// <summary>The images a network takes: channels and a square side in pixels.</summary>
/// <param name="Channels">Colour channels (1 for MultiMNIST, 3 for CIFAR-100 and CelebA).</param>
/// <param name="Side">Height and width in pixels.</param>
public readonly record struct ImageShape(int Channels, int Side)
{
    /// <summary>MultiMNIST and its variants: 1×28×28.</summary>
    public static ImageShape MultiMnist { get; } = new(1, 28);

    /// <summary>Pixels per image.</summary>
    public long Size => (long)Channels * Side * Side;

    /// <summary>The side after the LeNet trunk's first block (5×5 convolution, 2×2 max-pool).</summary>
    public int FirstBlockSide => (Side - 4) / 2;

    /// <summary>The side after the LeNet trunk's second block.</summary>
    public int SecondBlockSide => (FirstBlockSide - 4) / 2;

    /// <summary>Throws unless the LeNet trunk fits: at least one channel and a side of 16 pixels or more.</summary>
    public void EnsureLeNetFits()
    {
        if (Channels <= 0 || Side < 16)
        {
            throw new ArgumentException($"Images of {Channels}×{Side}×{Side} do not fit the LeNet trunk (two 5×5 convolutions and 2×2 max-pools): it needs at least one channel and 16×16 pixels.");
        }
    }
}
