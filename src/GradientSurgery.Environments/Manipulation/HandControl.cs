namespace GradientSurgery.Environments.Manipulation;

/// <summary>The moves the scripted policies share, read from the observation (the hand is its first three entries).</summary>
internal static class HandControl
{
    /// <summary>Writes the action's first three entries: toward <paramref name="target"/>, saturating at <paramref name="speed"/> (1 = 1 cm per control step) beyond 1/100 of it.</summary>
    public static void MoveToward(ReadOnlySpan<float> o, (float X, float Y, float Z) target, float speed, Span<float> action)
    {
        action[0] = Math.Clamp(100 * (target.X - o[0]), -speed, speed);
        action[1] = Math.Clamp(100 * (target.Y - o[1]), -speed, speed);
        action[2] = Math.Clamp(100 * (target.Z - o[2]), -speed, speed);
    }

    /// <summary>
    /// Where to go to get <paramref name="hover"/> above the object at (<paramref name="x"/>, <paramref name="y"/>,
    /// <paramref name="z"/>): straight up first while the hand is lower than that, so that it does not sweep into it.
    /// </summary>
    public static (float X, float Y, float Z) Above(ReadOnlySpan<float> o, float x, float y, float z, float hover) =>
        o[2] < z + hover - 0.01f ? (o[0], o[1], z + hover) : (x, y, z + hover);
}
