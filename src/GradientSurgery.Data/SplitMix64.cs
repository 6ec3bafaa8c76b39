namespace GradientSurgery.Data;

/// <summary>
/// Steele, Lea and Flood's SplitMix64 generator, whose whole state is one 64-bit value.
/// </summary>
/// <remarks>
/// Hand-written rather than <see cref="Random"/> because the composed datasets are cached on disk and compared
/// across runs: the pairing must be bit-identical on every .NET version and platform for a given seed, and
/// <see cref="Random"/>'s seeded algorithm is an implementation detail the runtime does not promise to keep.
/// The core library has its own copy, but this project must not depend on it (it would pull in TorchSharp).
/// </remarks>
internal sealed class SplitMix64(ulong state)
{
    /// <summary>The complete generator state.</summary>
    public ulong State { get; private set; } = state;

    /// <summary>The next 64 uniformly distributed bits.</summary>
    public ulong NextUInt64()
    {
        var z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform integer in [0, <paramref name="exclusiveBound"/>).</summary>
    /// <remarks>Rejection sampling, because a plain modulo would favour small indices when 2^64 is not a multiple of the bound.</remarks>
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
