namespace GradientSurgery.Aggregation;

/// <summary>
/// A tiny seeded generator (Steele, Lea and Flood's SplitMix64) whose whole state is one public 64-bit
/// value. Hand-written because <see cref="Random"/> cannot export its state, and a stateful aggregator must
/// be restorable from a checkpoint so that a resumed run draws the same orders as an uninterrupted one.
/// </summary>
internal sealed class SplitMix64(ulong state)
{
    /// <summary>The complete generator state.</summary>
    public ulong State { get; set; } = state;

    public ulong NextUInt64()
    {
        var z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform integer in [0, exclusiveBound), without modulo bias.</summary>
    public int NextInt(int exclusiveBound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(exclusiveBound);
        var bound = (ulong)exclusiveBound;
        var limit = ulong.MaxValue - ulong.MaxValue % bound;
        ulong draw;
        do
        {
            draw = NextUInt64();
        }
        while (draw >= limit);
        return (int)(draw % bound);
    }
}
