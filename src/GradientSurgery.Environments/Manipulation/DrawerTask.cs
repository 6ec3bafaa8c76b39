namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// drawer-open and drawer-close: a cabinet (20 × 20 × 10 cm) whose drawer slides out toward the hand on a damped slide
/// joint (travel up to 16 cm) and has a knob on its front, 5 cm above the table. The cabinet's centre is drawn per
/// episode from x ∈ [−0.1, 0.1], y ∈ [0.85, 0.95]. drawer-open starts closed and its goal is the knob 15 cm out;
/// drawer-close starts 15 cm out and its goal is the knob of the closed drawer (see <see cref="KnobTask"/>).
/// </summary>
/// <param name="open">drawer-open (true) or drawer-close (false).</param>
internal sealed class DrawerTask(bool open) : KnobTask(open)
{
    private const double KnobOffset = 0.125, KnobHeight = 0.05;

    public override string Name => Opens ? "drawer-open" : "drawer-close";

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
    public override string Extra => ExcludeContacts("cabinet", "drawer");

    protected override string Fixture => "cabinet";

    protected override string Joint => "drawer";

    protected override string Knob => "drawer_knob";

    protected override (Vec3 Low, Vec3 High) FixtureRange => (new(-0.1, 0.85, 0), new(0.1, 0.95, 0));

    protected override Vec3 KnobAt(Vec3 fixture, double travel) => new(fixture.X, fixture.Y - KnobOffset - travel, KnobHeight);
}
