using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// button-press-topdown: a box (10 × 10 × 8 cm) with a button (4 × 4 × 3 cm) on top, held up by a spring on a vertical
/// slide joint (3 cm of travel). The box's centre is drawn per episode from x ∈ [−0.1, 0.1], y ∈ [0.8, 0.9]
/// (Meta-World's range); the goal is the button fully pressed. Reward 0.3 (1 − tanh(‖hand − button‖ / 0.1)) +
/// 0.7 (1 − tanh(‖button − goal‖ / 0.02)); success: the button within 1 cm of the goal (pressed at least 2 cm).
/// </summary>
internal sealed class ButtonTask : ManipulationTask
{
    /// <summary>How far the button can be pressed (m).</summary>
    public const double Travel = 0.03;

    private const double BoxHeight = 0.08, ButtonHalfHeight = 0.015;

    private static readonly Vec3 Low = new(-0.1, 0.8, 0);
    private static readonly Vec3 High = new(0.1, 0.9, 0);

    public override string Name => "button-press-topdown";

    public override string Bodies => $"""
            <body name="button_box" mocap="true" pos="0 0.85 0">
              <geom name="button_box" type="box" pos="0 0 {BoxHeight / 2}" size="0.05 0.05 {BoxHeight / 2}" rgba=".85 .8 .2 1"/>
              <body name="button" pos="0 0 {BoxHeight + ButtonHalfHeight}">
                <joint name="button" type="slide" axis="0 0 1" range="{-Travel} 0" stiffness="300" damping="2"/>
                <geom name="button" type="box" size="0.02 0.02 {ButtonHalfHeight}" mass="0.02" rgba=".8 .1 .1 1"/>
              </body>
            </body>
        """;

    // The button sinks into the box: only its top should touch anything.
    public override string Extra => ExcludeContacts("button_box", "button");

    public override IReadOnlyList<string> TrackedBodies => ["button"];

    public override Vec3 Place(SplitMix64 random, MjModel model, MjData data)
    {
        var box = Vec3.Uniform(random, Low, High);
        PlaceMocap(model, data, "button_box", box);
        return box with { Z = BoxHeight + ButtonHalfHeight - Travel };
    }

    public override double Reward(TaskState state) =>
        (0.3 * Closeness(state.Hand.DistanceTo(state.Object), 0.1)) + (0.7 * Closeness(state.Object.DistanceTo(state.Goal), 0.02));

    public override bool Success(TaskState state) => state.Object.DistanceTo(state.Goal) < 0.01;

    public override IScriptedPolicy ScriptedPolicy() => new Scripted();

    /// <summary>Fingers closed into a pusher: above the button first, then straight down past the pressed position.</summary>
    private sealed class Scripted : IScriptedPolicy
    {
        private const float Hover = 0.06f;

        public void Act(ReadOnlySpan<float> o, Span<float> action)
        {
            var (bx, by, bz) = (o[ManipulationEnvironment.ObjectIndex], o[ManipulationEnvironment.ObjectIndex + 1], o[ManipulationEnvironment.ObjectIndex + 2]);
            var offset = MathF.Sqrt(((o[0] - bx) * (o[0] - bx)) + ((o[1] - by) * (o[1] - by)));
            // Once above the button: the pads' lower edge to where the pressed button's centre is, so that its top is
            // pressed below the goal.
            var target = offset > 0.01f ? HandControl.Above(o, bx, by, bz, Hover) : (bx, by, o[ManipulationEnvironment.GoalIndex + 2]);
            HandControl.MoveToward(o, target, 1f, action);
            action[3] = 1;
        }
    }
}
