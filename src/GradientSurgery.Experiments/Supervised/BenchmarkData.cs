using GradientSurgery.Models;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>A supervised benchmark in memory: its two splits and what a network for it must take and give.</summary>
/// <param name="Train">The training split (first examples only when limited).</param>
/// <param name="Test">The split evaluated after every epoch.</param>
/// <param name="Input">The images' shape (for NYUv2: 3 channels and the height; its fully convolutional networks take any size the pooling divides).</param>
/// <param name="Classes">Classes per task (NYUv2: the segmentation classes).</param>
public sealed record BenchmarkData(IMultiTaskData Train, IMultiTaskData Test, ImageShape Input, int Classes) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
    }
}
