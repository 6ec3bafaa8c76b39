using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// push: slide a block (4 cm cube, 100 g; a box rather than Meta-World's cylinder, because MuJoCo 2.2.2 gives a cylinder
/// resting on a box a single contact point, on which it tips) across the table to a goal. Puck drawn from x ∈ [−0.1, 0.1],
/// y ∈ [0.6, 0.7]; goal on the table from x ∈ [−0.1, 0.1], y ∈ [0.8, 0.9] (Meta-World's ranges). Reward
/// 0.3 (1 − tanh(‖hand − puck‖ / 0.1)) + 0.7 (1 − tanh(‖puck − goal‖_xy / 0.1)); success: the puck's centre within
/// 5 cm of the goal in the table's plane.
/// </summary>
internal sealed class PushTask : ManipulationTask
{
    private const double Radius = 0.02, HalfHeight = 0.02;
    private static readonly Vec3 PuckLow = new(-0.1, 0.6, HalfHeight);
    private static readonly Vec3 PuckHigh = new(0.1, 0.7, HalfHeight);
    private static readonly Vec3 GoalLow = new(-0.1, 0.8, HalfHeight);
    private static readonly Vec3 GoalHigh = new(0.1, 0.9, HalfHeight);

    public override string Name => "push";

    public override string Bodies => $"""
            <body name="puck" pos="0 0.65 {HalfHeight}">
              <freejoint name="puck"/>
              <geom name="puck" type="box" size="{Radius} {Radius} {HalfHeight}" mass="0.1" rgba=".8 .1 .1 1"/>
            </body>
        """;

    public override IReadOnlyList<string> TrackedBodies => ["puck"];

    public override Vec3 Place(SplitMix64 random, MjModel model, MjData data)
    {
        PlaceFreeBody(model, data, "puck", Vec3.Uniform(random, PuckLow, PuckHigh));
        return Vec3.Uniform(random, GoalLow, GoalHigh);
    }

    public override double Reward(TaskState state) =>
        (0.3 * Closeness(state.Hand.DistanceTo(state.Object), 0.1)) + (0.7 * Closeness(state.Object.PlanarDistanceTo(state.Goal), 0.1));

    public override bool Success(TaskState state) => state.Object.PlanarDistanceTo(state.Goal) < 0.05;

    public override IScriptedPolicy ScriptedPolicy() => new Scripted();

    /// <summary>
    /// As Meta-World's own scripted push: hover above the puck with the fingers open, come down around it, close them,
    /// and once they hold it slide it to the goal, a few millimetres above the table.
    /// </summary>
    private sealed class Scripted : IScriptedPolicy
    {
        public void Act(ReadOnlySpan<float> o, Span<float> action)
        {
            var (hx, hy, hz) = (o[0], o[1], o[2]);
            var opening = o[ManipulationEnvironment.GripperIndex];
            var (px, py) = (o[ManipulationEnvironment.ObjectIndex], o[ManipulationEnvironment.ObjectIndex + 1]);
            var (gx, gy) = (o[ManipulationEnvironment.GoalIndex], o[ManipulationEnvironment.GoalIndex + 1]);
            var offset = MathF.Sqrt(((hx - px) * (hx - px)) + ((hy - py) * (hy - py)));
            float tx = px, ty = py, tz, grip;
            if (offset > 0.015f && opening > 0.9f)
            {
                // Above the puck first (rising before travelling when low), fingers open.
                (tz, grip) = (0.1f, -1f);
                if (hz < 0.09f)
                {
                    (tx, ty) = (hx, hy);
                }
            }
            else if (hz > 0.01f && opening > 0.9f)
            {
                (tz, grip) = (0.004f, -1f);
            }
            else if (MathF.Abs(opening - o[ManipulationEnvironment.FrameLength + ManipulationEnvironment.GripperIndex]) > 0.01f)
            {
                // Closing on the block: hold still until the fingers stop (a block held across a corner stops them wider).
                (tx, ty, tz, grip) = (hx, hy, hz, 1f);
            }
            else
            {
                (tx, ty, tz, grip) = (gx, gy, 0.01f, 1f);
            }
            action[0] = Math.Clamp(100 * (tx - hx), -1, 1);
            action[1] = Math.Clamp(100 * (ty - hy), -1, 1);
            action[2] = Math.Clamp(100 * (tz - hz), -1, 1);
            action[3] = grip;
        }
    }
}
