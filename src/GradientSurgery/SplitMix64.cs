namespace GradientSurgery;

/// <summary>
/// Steele, Lea and Flood's SplitMix64 generator ("Fast Splittable Pseudorandom Number Generators", OOPSLA 2014;
/// the reference code is Vigna's splitmix64.c), whose whole state is one public 64-bit value.
/// </summary>
/// <remarks>
/// <para>
/// Hand-written rather than <see cref="Random"/> for two reasons. A stateful method must be restorable from a
/// checkpoint so that a resumed run draws exactly what an uninterrupted one would, and <see cref="Random"/>
/// cannot export its state. And data composed from a seed (the MultiMNIST pairing) is cached on disk and
/// compared across runs, so it must be bit-identical on every .NET version and platform, while
/// <see cref="Random"/>'s seeded algorithm is an implementation detail the runtime does not promise to keep.
/// </para>
/// <para>Not thread-safe, and not for cryptography.</para>
/// </remarks>
/// <param name="state">The initial state (the seed); every value, including 0, is a valid state.</param>
public sealed class SplitMix64(ulong state)
{
    /// <summary>The complete generator state: setting a state saved earlier replays the draws made from it.</summary>
    public ulong State { get; set; } = state;

    /// <summary>The next 64 uniformly distributed bits.</summary>
    public ulong NextUInt64()
    {
        var z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform double in [0, 1): the top 53 bits of the next draw, so every value is a multiple of 2⁻⁵³.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A uniform integer in [0, <paramref name="exclusiveBound"/>), without modulo bias.</summary>
    /// <remarks>
    /// Rejection sampling: draws at or above the largest multiple of the bound that fits in 64 bits are drawn
    /// again, because a plain modulo would favour small values when 2⁶⁴ is not a multiple of the bound. Fewer
    /// than one draw in 2³² is rejected for any int bound.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="exclusiveBound"/> is not positive.</exception>
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
