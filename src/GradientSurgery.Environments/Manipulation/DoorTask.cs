namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// door-open: a cupboard (20 × 20 × 25 cm) whose door (20 × 25 cm) swings toward the hand on a damped vertical hinge
/// at its left edge (up to 100°), with a handle (3 × 2.4 × 4 cm) 5 cm in front of the door near its free edge, 12 cm
/// above the table, on a vertical pivot (a weak spring keeps it square to the door; held, it stays square to the
/// fingers as the door swings). The hinge is drawn per episode from
/// x ∈ [−0.2, −0.1], y ∈ [0.8, 0.9]; the door starts closed and the goal is the handle with the door open 60° (see
/// <see cref="KnobTask"/> for the reward and the success criterion).
/// </summary>
internal sealed class DoorTask() : KnobTask(opens: true)
{
    /// <summary>The handle's position relative to the hinge with the door closed (m).</summary>
    public const double HandleX = 0.17, HandleY = -0.05, HandleHeight = 0.12;

    /// <summary>The goal's opening angle (radians).</summary>
    public const double GoalAngle = Math.PI / 3;

    public override string Name => "door-open";

    public override string Bodies => $"""
            <body name="door_frame" mocap="true" pos="-0.15 0.85 0">
              <geom name="cupboard" type="box" pos="0.1 0.105 0.13" size="0.1 0.1 0.125" rgba=".5 .5 .55 1"/>
              <body name="door" pos="0 0 0">
                <joint name="door" type="hinge" axis="0 0 -1" range="0 1.75" damping="0.1"/>
                <geom name="door" type="box" pos="0.1 0 0.13" size="0.1 0.005 0.125" mass="0.5" rgba=".7 .6 .4 1"/>
                <body name="door_handle" pos="{HandleX} {HandleY} {HandleHeight}">
                  <joint name="door_handle" type="hinge" axis="0 0 1" stiffness="0.05" damping="0.005"/>
                  <geom name="door_handle" type="box" size="0.015 0.012 0.02" mass="0.02" rgba=".2 .2 .8 1"/>
                  <geom name="door_bracket" contype="0" conaffinity="0" type="box" pos="0 0.025 -0.025" size="0.006 0.025 0.004" mass="0.01" rgba=".2 .2 .8 1"/>
                </body>
              </body>
            </body>
        """;

    // The door closes against the cupboard's front: that face should not hold it.
    public override string Extra => ExcludeContacts("door_frame", "door");

    // The door's pose too: the handle turns on its pin as the door swings, so only the door's orientation gives the angle.
    public override IReadOnlyList<string> TrackedBodies => [Knob, "door"];

    protected override double Travel => GoalAngle;

    protected override string Fixture => "door_frame";

    protected override string Joint => "door";

    protected override string Knob => "door_handle";

    protected override (Vec3 Low, Vec3 High) FixtureRange => (new(-0.2, 0.8, 0), new(-0.1, 0.9, 0));

    protected override Vec3 KnobAt(Vec3 fixture, double travel)
    {
        var (x, y) = Rotate(HandleX, HandleY, -travel);
        return new Vec3(fixture.X + x, fixture.Y + y, HandleHeight);
    }

    public override IScriptedPolicy ScriptedPolicy() => new Scripted();

    private static (double X, double Y) Rotate(double x, double y, double angle) =>
        ((x * Math.Cos(angle)) - (y * Math.Sin(angle)), (x * Math.Sin(angle)) + (y * Math.Cos(angle)));

    /// <summary>
    /// Grasps the handle, then carries it along the door's arc: the door's orientation (the second body in the
    /// observation) gives the hinge-to-handle direction, and the hand moves along its perpendicular until the door is at
    /// the goal's angle. (The handle turns on its pivot between the pads as the door swings.)
    /// </summary>
    private sealed class Scripted : GraspPolicy
    {
        protected override (float X, float Y, float Z) CarryTarget(ReadOnlySpan<float> o)
        {
            var q = ManipulationEnvironment.SecondObjectIndex + 3;
            var yaw = 2 * Math.Atan2(o[q + 3], o[q]);
            var (rx, ry) = Rotate(HandleX, HandleY, yaw);
            var radius = Math.Sqrt((rx * rx) + (ry * ry));
            // Along the arc toward the goal's angle (back again after an overshoot), at most 3 mm a step: the hand
            // leads the handle it drags, so the step is taken from the hand.
            var step = Math.Clamp((GoalAngle + yaw) * radius, -0.003, 0.003);
            var oz = o[ManipulationEnvironment.ObjectIndex + 2];
            return ((float)(o[0] + (step * ry / radius)), (float)(o[1] - (step * rx / radius)), oz - GraspDepth);
        }
    }
}
