using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// The block that push and pick-place move: a 4 cm cube of 100 g on a free joint, drawn on the table from
/// x ∈ [−0.1, 0.1], y ∈ [0.6, 0.7] (Meta-World's range for its puck). A box rather than Meta-World's cylinder: MuJoCo
/// 2.2.2 gives a cylinder resting on a box a single contact point, on which it tips.
/// </summary>
internal static class Block
{
    /// <summary>Half the block's side (m): its centre's height when it rests on the table.</summary>
    public const double HalfSide = 0.02;

    /// <summary>The body's name (also its joint's).</summary>
    public const string Name = "block";

    private static readonly Vec3 Low = new(-0.1, 0.6, HalfSide);
    private static readonly Vec3 High = new(0.1, 0.7, HalfSide);

    /// <summary>Its MJCF.</summary>
    public static string Xml => $"""
            <body name="{Name}" pos="0 0.65 {HalfSide}">
              <freejoint name="{Name}"/>
              <geom name="{Name}" type="box" size="{HalfSide} {HalfSide} {HalfSide}" mass="0.1" rgba=".8 .1 .1 1"/>
            </body>
        """;

    /// <summary>Puts the block at a position drawn from its range.</summary>
    public static void Place(SplitMix64 random, MjModel model, MjData data) =>
        ManipulationTask.PlaceFreeBody(model, data, Name, Vec3.Uniform(random, Low, High));
}
