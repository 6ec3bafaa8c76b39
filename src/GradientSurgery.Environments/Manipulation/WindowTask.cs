namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// window-open and window-close: an upright frame (50 × 30 cm wall) with a pane (20 × 16 cm) sliding sideways in front
/// of it on a damped joint (travel up to 20 cm), its knob 15 cm above the table on the pane's left side. The frame's
/// centre is drawn per episode from x ∈ [−0.1, 0.05], y ∈ [0.8, 0.9]. window-open starts closed and its goal is the
/// knob 15 cm along +x; window-close starts 15 cm open and its goal is the knob of the closed window (see
/// <see cref="KnobTask"/>).
/// </summary>
/// <param name="open">window-open (true) or window-close (false).</param>
internal sealed class WindowTask(bool open) : KnobTask(open)
{
    private const double KnobX = -0.07, KnobY = -0.045, KnobHeight = 0.15;

    public override string Name => Opens ? "window-open" : "window-close";

    public override string Bodies => $"""
            <body name="window_frame" mocap="true" pos="0 0.85 0">
              <geom name="window_wall" type="box" pos="0 0 0.15" size="0.25 0.01 0.15" rgba=".55 .55 .6 1"/>
              <body name="pane" pos="0 -0.02 {KnobHeight}">
                <joint name="pane" type="slide" axis="1 0 0" range="0 0.2" damping="3"/>
                <geom name="pane" type="box" size="0.1 0.005 0.08" mass="0.3" rgba=".6 .8 .9 .6"/>
                <body name="window_knob" pos="{KnobX} {KnobY + 0.02} 0">
                  <geom name="window_knob" type="box" size="0.015 0.012 0.02" mass="0.02" rgba=".2 .2 .8 1"/>
                </body>
              </body>
            </body>
        """;

    protected override string Fixture => "window_frame";

    protected override string Joint => "pane";

    protected override string Knob => "window_knob";

    protected override (Vec3 Low, Vec3 High) FixtureRange => (new(-0.1, 0.8, 0), new(0.05, 0.9, 0));

    protected override Vec3 KnobAt(Vec3 fixture, double travel) => new(fixture.X + KnobX + travel, fixture.Y + KnobY, KnobHeight);
}
