using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// peg-insert-side: a peg (4 × 16 × 4 cm, 100 g, its long side toward the box) lies on the table at x ∈ [−0.1, 0.1],
/// y ∈ [0.5, 0.6]; a box (16 × 12 × 20 cm) with a 7 × 7 cm square hole through it, 10 cm above the table, faces it, its
/// centre drawn from x ∈ [−0.1, 0.1], y ∈ [0.85, 0.9]. The goal is the peg's centre with its head 6 cm into the hole.
/// Reward 0.2 (1 − tanh(‖hand − peg‖ / 0.1)) + 0.8 (1 − tanh(‖peg − goal‖ / 0.1)); success: the peg's centre within
/// 3 cm of the goal, which the hole's walls allow only with its head at least 3 cm inside.
/// </summary>
internal sealed class PegInsertTask : ManipulationTask
{
    /// <summary>Half the peg's length (m).</summary>
    public const double HalfLength = 0.08;

    private const double HalfSide = 0.02, HoleHeight = 0.1, HalfHole = 0.035, HalfDepth = 0.06, Depth = 0.06;

    private static readonly Vec3 PegLow = new(-0.1, 0.5, HalfSide);
    private static readonly Vec3 PegHigh = new(0.1, 0.6, HalfSide);
    private static readonly Vec3 BoxLow = new(-0.1, 0.85, 0);
    private static readonly Vec3 BoxHigh = new(0.1, 0.9, 0);

    public override string Name => "peg-insert-side";

    // The box is four walls around the hole: MuJoCo collides convex shapes only.
    public override string Bodies => $"""
            <body name="peg" pos="0 0.55 {HalfSide}">
              <freejoint name="peg"/>
              <geom name="peg" type="box" size="{HalfSide} {HalfLength} {HalfSide}" mass="0.1" rgba=".3 .7 .3 1"/>
            </body>
            <body name="peg_box" mocap="true" pos="0 0.875 0">
              <geom name="peg_box_left" type="box" pos="{-HalfHole - 0.0225} 0 0.1" size="0.0225 {HalfDepth} 0.1" rgba=".5 .5 .6 1"/>
              <geom name="peg_box_right" type="box" pos="{HalfHole + 0.0225} 0 0.1" size="0.0225 {HalfDepth} 0.1" rgba=".5 .5 .6 1"/>
              <geom name="peg_box_bottom" type="box" pos="0 0 {(HoleHeight - HalfHole) / 2}" size="{HalfHole} {HalfDepth} {(HoleHeight - HalfHole) / 2}" rgba=".5 .5 .6 1"/>
              <geom name="peg_box_top" type="box" pos="0 0 {(0.2 + HoleHeight + HalfHole) / 2}" size="{HalfHole} {HalfDepth} {(0.2 - HoleHeight - HalfHole) / 2}" rgba=".5 .5 .6 1"/>
            </body>
        """;

    public override IReadOnlyList<string> TrackedBodies => ["peg"];

    public override Vec3 Place(SplitMix64 random, MjModel model, MjData data)
    {
        PlaceFreeBody(model, data, "peg", Vec3.Uniform(random, PegLow, PegHigh));
        var box = Vec3.Uniform(random, BoxLow, BoxHigh);
        PlaceMocap(model, data, "peg_box", box);
        // The head Depth into the hole, whose mouth is the box's near face.
        return new Vec3(box.X, box.Y - HalfDepth + Depth - HalfLength, HoleHeight);
    }

    public override double Reward(TaskState state) =>
        (0.2 * Closeness(state.Hand.DistanceTo(state.Object), 0.1)) + (0.8 * Closeness(state.Object.DistanceTo(state.Goal), 0.1));

    public override bool Success(TaskState state) => state.Object.DistanceTo(state.Goal) < 0.03;

    public override IScriptedPolicy ScriptedPolicy() => new Scripted();

    /// <summary>
    /// Grasps the peg at its middle, carries it to a point 10 cm short of the goal in line with the hole, then pushes it
    /// straight in; a peg that gets out of line in the hole (it tipped in the fingers) is drawn back out and lined up again. Steps are taken from the hand by the peg's remaining displacement, so that where the fingers hold it
    /// does not matter.
    /// </summary>
    private sealed class Scripted : GraspPolicy
    {
        protected override (float X, float Y, float Z) CarryTarget(ReadOnlySpan<float> o)
        {
            var (ox, oy, oz) = (o[ManipulationEnvironment.ObjectIndex], o[ManipulationEnvironment.ObjectIndex + 1], o[ManipulationEnvironment.ObjectIndex + 2]);
            var (gx, gy, gz) = (o[ManipulationEnvironment.GoalIndex], o[ManipulationEnvironment.GoalIndex + 1], o[ManipulationEnvironment.GoalIndex + 2]);
            var inside = oy > gy - 0.05f;
            var tolerance = inside ? 0.012f : 0.006f;
            if (MathF.Abs(ox - gx) < tolerance && MathF.Abs(oz - gz) < tolerance)
            {
                // In line with the hole: straight in, the hand never past the goal's line (a jammed peg must not drive
                // the fingers into the box's face).
                return (o[0] + (gx - ox), MathF.Min(o[1] + (gy - oy), gy + 0.005f), o[2] + (gz - oz));
            }
            // Out of line: back straight out first if the head is in the hole, then line up 10 cm short of the goal.
            return inside ? (o[0], o[1] + (gy - 0.1f - oy), o[2]) : (o[0] + (gx - ox), o[1] + (gy - 0.1f - oy), o[2] + (gz - oz));
        }
    }
}
