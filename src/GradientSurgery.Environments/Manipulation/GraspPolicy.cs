namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// The scripted policy of the tasks that carry the block, as Meta-World's own scripted push and pick-place: hover above
/// the block with the fingers open, come down around it, close them, wait until they stop (a block held across a
/// corner stops them wider than one held by its faces), then carry it to the goal — sliding it a few millimetres above
/// the table for push, through the air for pick-place.
/// </summary>
/// <param name="lift">Carry the block to the goal's height (pick-place) rather than along the table (push).</param>
internal sealed class GraspPolicy(bool lift) : IScriptedPolicy
{
    private const float Hover = 0.1f, Slide = 0.01f;

    public void Act(ReadOnlySpan<float> o, Span<float> action)
    {
        var (hx, hy, hz) = (o[0], o[1], o[2]);
        var opening = o[ManipulationEnvironment.GripperIndex];
        var openingBefore = o[ManipulationEnvironment.FrameLength + ManipulationEnvironment.GripperIndex];
        var (bx, by) = (o[ManipulationEnvironment.ObjectIndex], o[ManipulationEnvironment.ObjectIndex + 1]);
        var (gx, gy, gz) = (o[ManipulationEnvironment.GoalIndex], o[ManipulationEnvironment.GoalIndex + 1], o[ManipulationEnvironment.GoalIndex + 2]);
        var offset = MathF.Sqrt(((hx - bx) * (hx - bx)) + ((hy - by) * (hy - by)));
        float tx = bx, ty = by, tz, grip;
        if (offset > 0.015f && opening > 0.9f)
        {
            // Above the block first (rising before travelling when low), fingers open.
            (tz, grip) = (Hover, -1f);
            if (hz < Hover - 0.01f)
            {
                (tx, ty) = (hx, hy);
            }
        }
        else if (hz > 0.01f && opening > 0.9f)
        {
            (tz, grip) = (0.004f, -1f);
        }
        else if (MathF.Abs(opening - openingBefore) > 0.01f)
        {
            (tx, ty, tz, grip) = (hx, hy, hz, 1f);
        }
        else
        {
            // The hand's position is the pads' lower edge, 2 cm below the held block's centre.
            (tx, ty, tz, grip) = (gx, gy, lift ? gz - (float)Block.HalfSide : Slide, 1f);
        }
        action[0] = Math.Clamp(100 * (tx - hx), -1, 1);
        action[1] = Math.Clamp(100 * (ty - hy), -1, 1);
        action[2] = Math.Clamp(100 * (tz - hz), -1, 1);
        action[3] = grip;
    }
}
