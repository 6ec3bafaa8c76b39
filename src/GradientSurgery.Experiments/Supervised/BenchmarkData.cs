using GradientSurgery.Models;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>A supervised benchmark in memory: its two splits and what a network for it must take and give.</summary>
/// <param name="Train">The training split (first examples only when limited).</param>
/// <param name="Test">The split evaluated after every epoch.</param>
/// <param name="Input">The images' shape.</param>
/// <param name="Classes">Classes per task.</param>
public sealed record BenchmarkData(ClassificationData Train, ClassificationData Test, ImageShape Input, int Classes) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
    }
}
