using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// drawer-open and drawer-close: a cabinet (20 × 20 × 10 cm) whose drawer slides out toward the hand on a damped slide
/// joint (travel 16 cm) and has a knob on its front. The cabinet's centre is drawn per episode from x ∈ [−0.1, 0.1],
/// y ∈ [0.85, 0.95]. drawer-open starts closed and its goal is the knob 15 cm out; drawer-close starts 15 cm out and its
/// goal is the knob of the closed drawer. Reward 0.3 (1 − tanh(‖hand − knob‖ / 0.1)) + 0.7 (1 − tanh(‖knob − goal‖ / 0.1));
/// success: the knob within 3 cm of the goal.
/// </summary>
/// <param name="open">drawer-open (true) or drawer-close (false).</param>
internal sealed class DrawerTask(bool open) : ManipulationTask
{
    /// <summary>How far the drawer is out in the open state (m).</summary>
    public const double Opening = 0.15;

    private const double KnobOffset = 0.125, KnobHeight = 0.05;
    private static readonly Vec3 CabinetLow = new(-0.1, 0.85, 0);
    private static readonly Vec3 CabinetHigh = new(0.1, 0.95, 0);

    public override string Name => open ? "drawer-open" : "drawer-close";

    // The cabinet is a mocap body so that each episode can put it elsewhere; the drawer and its knob move on the joint.
    public override string Bodies => $"""
            <body name="cabinet" mocap="true" pos="0 0.9 0">
              <geom name="cabinet" type="box" pos="0 0 0.05" size="0.1 0.1 0.05" rgba=".5 .5 .55 1"/>
              <body name="drawer" pos="0 0 {KnobHeight}">
                <joint name="drawer" type="slide" axis="0 -1 0" range="0 0.16" damping="3"/>
                <geom name="drawer" type="box" size="0.09 0.095 0.04" mass="0.3" rgba=".7 .6 .4 1"/>
                <body name="drawer_knob" pos="0 {-KnobOffset} 0">
                  <geom name="drawer_knob" type="box" size="0.015 0.012 0.02" mass="0.02" rgba=".2 .2 .8 1"/>
                </body>
              </body>
            </body>
        """;

    // The drawer lives inside the cabinet's box: only the knob and the drawer's front should touch anything.
    public override string Extra => """
          <contact>
            <exclude body1="cabinet" body2="drawer"/>
          </contact>
        """;

    public override IReadOnlyList<string> TrackedBodies => ["drawer_knob"];

    public override Vec3 Place(SplitMix64 random, MjModel model, MjData data)
    {
        var cabinet = Vec3.Uniform(random, CabinetLow, CabinetHigh);
        PlaceMocap(model, data, "cabinet", cabinet);
        var joint = model.JointQposAddress[model.RequireId(MjObjectType.Joint, "drawer")];
        data.Qpos[joint] = open ? 0 : Opening;
        return new Vec3(cabinet.X, cabinet.Y - KnobOffset - (open ? Opening : 0), KnobHeight);
    }

    public override double Reward(TaskState state) =>
        (0.3 * Closeness(state.Hand.DistanceTo(state.Object), 0.1)) + (0.7 * Closeness(state.Object.DistanceTo(state.Goal), 0.1));

    public override bool Success(TaskState state) => state.Object.DistanceTo(state.Goal) < 0.03;

    public override IScriptedPolicy ScriptedPolicy() => new GraspPolicy();
}
