namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// The scripted policy of the tasks that take hold of their object (the block, the peg, a drawer's, window's or door's
/// handle), as Meta-World's own scripted policies do: hover above the object with the fingers open (re-centring when
/// more than 8 mm off), come down around it, close them and hold still while they are still closing, then carry it at
/// half speed to where <see cref="CarryTarget"/> says — by default straight to the goal, which the object's joint turns
/// into the right path (a drawer slides, a block is lifted or slid along the table, as the goal's height says). If the
/// fingers close on nothing, it opens them and starts over. (Fingers squeezing an object chatter, and one that turns in
/// them pushes them apart; neither is taken for a lost grasp.)
/// </summary>
internal class GraspPolicy : IScriptedPolicy
{
    /// <summary>How far below the object's centre the hand (the pads' lower edge) goes to grasp it.</summary>
    public const float GraspDepth = 0.016f;

    private const float Hover = 0.08f;

    public void Act(ReadOnlySpan<float> o, Span<float> action)
    {
        var (hx, hy, hz) = (o[0], o[1], o[2]);
        var opening = o[ManipulationEnvironment.GripperIndex];
        var openingBefore = o[ManipulationEnvironment.FrameLength + ManipulationEnvironment.GripperIndex];
        var (ox, oy, oz) = (o[ManipulationEnvironment.ObjectIndex], o[ManipulationEnvironment.ObjectIndex + 1], o[ManipulationEnvironment.ObjectIndex + 2]);
        var offset = MathF.Sqrt(((hx - ox) * (hx - ox)) + ((hy - oy) * (hy - oy)));
        var graspHeight = oz - GraspDepth;
        float tx = ox, ty = oy, tz, grip, speed = 1f;
        if (opening < 0.05f)
        {
            // Nothing between the fingers (it slipped out, or the grasp missed): open them where the hand is, and start over.
            (tx, ty, tz, grip) = (hx, hy, hz, -1f);
        }
        else if (offset > 0.008f && opening > 0.9f)
        {
            // Above the object first, fingers open.
            ((tx, ty, tz), grip) = (HandControl.Above(o, ox, oy, oz, Hover), -1f);
        }
        else if (hz > graspHeight + 0.006f && opening > 0.9f)
        {
            (tz, grip) = (graspHeight, -1f);
        }
        else if (opening > 0.9f || opening < openingBefore - 0.01f)
        {
            // Arrived with the fingers open, or they are still closing: hold still until they have stopped. (Only closing
            // counts: fingers squeezing an object chatter by a few hundredths, which must not hold the hand forever.)
            (tx, ty, tz, grip) = (hx, hy, hz, 1f);
        }
        else
        {
            // Carry at half speed, so that the object keeps up with the hand instead of slipping out.
            ((tx, ty, tz), grip, speed) = (CarryTarget(o), 1f, 0.5f);
        }
        HandControl.MoveToward(o, (tx, ty, tz), speed, action);
        action[3] = grip;
    }

    /// <summary>Where the hand goes while it holds the object: by default straight to where the object is at the goal.</summary>
    protected virtual (float X, float Y, float Z) CarryTarget(ReadOnlySpan<float> o) =>
        (o[ManipulationEnvironment.GoalIndex], o[ManipulationEnvironment.GoalIndex + 1], o[ManipulationEnvironment.GoalIndex + 2] - GraspDepth);
}
