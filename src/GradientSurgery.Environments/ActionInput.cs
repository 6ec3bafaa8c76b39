using System.Globalization;

namespace GradientSurgery.Environments;

/// <summary>The checks every environment applies to its buffers and actions, with messages that name the task and step.</summary>
internal static class ActionInput
{
    /// <summary>Throws unless a buffer of <paramref name="length"/> entries has <paramref name="expected"/>.</summary>
    public static void RequireLength(int length, int expected, string what, EnvironmentSpec spec)
    {
        if (length != expected)
        {
            throw new ArgumentException($"Task {spec.TaskName}: the {what} has {length} entries, but the task's is {expected}.");
        }
    }

    /// <summary>Writes the action clipped to [−1, 1] into <paramref name="clipped"/>; refuses NaN and ±Inf.</summary>
    public static void Clip(ReadOnlySpan<float> action, Span<double> clipped, EnvironmentSpec spec, int step)
    {
        RequireLength(action.Length, spec.ActionSize, "action", spec);
        for (var i = 0; i < action.Length; i++)
        {
            if (!float.IsFinite(action[i]))
            {
                throw new ArgumentException($"Task {spec.TaskName}, step {step}: action entry {i} is {action[i].ToString(CultureInfo.InvariantCulture)}; actions must be finite.");
            }
            clipped[i] = Math.Clamp(action[i], -1f, 1f);
        }
    }
}
