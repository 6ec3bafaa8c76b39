using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Environments.Manipulation;

/// <summary>A task that moves the <see cref="Block"/> to a goal drawn from a box: the block, its tracking and the episode's placement, once.</summary>
/// <param name="goalLow">The goal box's lower corner.</param>
/// <param name="goalHigh">The goal box's upper corner.</param>
internal abstract class BlockTask(Vec3 goalLow, Vec3 goalHigh) : ManipulationTask
{
    public sealed override string Bodies => Block.Xml;

    public sealed override IReadOnlyList<string> TrackedBodies => [Block.Name];

    public sealed override Vec3 Place(SplitMix64 random, MjModel model, MjData data)
    {
        Block.Place(random, model, data);
        return Vec3.Uniform(random, goalLow, goalHigh);
    }
}
