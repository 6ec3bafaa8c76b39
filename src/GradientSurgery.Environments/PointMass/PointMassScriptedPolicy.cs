namespace GradientSurgery.Environments.PointMass;

/// <summary>
/// The point mass's scripted policy: a proportional-derivative force toward the task's goal, a = clip(4 (g − p) − 2 v).
/// The goal is the task's own (fixed per task, not observed), which a per-task controller may know.
/// </summary>
public sealed class PointMassScriptedPolicy((double X, double Y) goal) : IScriptedPolicy
{
    /// <inheritdoc />
    public void Act(ReadOnlySpan<float> observation, Span<float> action)
    {
        action[0] = (float)Math.Clamp(4 * (goal.X - observation[0]) - 2 * observation[2], -1, 1);
        action[1] = (float)Math.Clamp(4 * (goal.Y - observation[1]) - 2 * observation[3], -1, 1);
    }
}
