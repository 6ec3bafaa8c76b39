namespace GradientSurgery.Tests;

public sealed class SplitMix64Tests
{
    [Fact]
    public void SplitMix64MatchesTheReferenceSequence()
    {
        // Reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        var random = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, random.NextUInt64());
        Assert.Equal(0x6E789E6AA1B965F4UL, random.NextUInt64());
        Assert.Equal(0x06C45D188009454FUL, random.NextUInt64());
    }

    [Fact]
    public void RestoringTheStateReplaysTheDraws()
    {
        var random = new SplitMix64(12345);
        random.NextUInt64();
        var saved = random.State;
        var expected = Enumerable.Range(0, 5).Select(_ => random.NextInt(1000)).ToArray();
        random.State = saved;
        Assert.Equal(expected, Enumerable.Range(0, 5).Select(_ => random.NextInt(1000)).ToArray());
        // One draw advances the state by the golden-ratio increment 0x9E3779B97F4A7C15.
        var copy = new SplitMix64(saved);
        copy.NextUInt64();
        Assert.Equal(unchecked(saved + 0x9E3779B97F4A7C15UL), copy.State);
    }

    [Fact]
    public void NextIntStaysInRangeAndHitsEveryValue()
    {
        var random = new SplitMix64(3);
        Assert.Equal(0, random.NextInt(1));
        var counts = new int[7];
        for (var draw = 0; draw < 7000; draw++)
        {
            counts[random.NextInt(7)]++;
        }
        // Each count is Binomial(7000, 1/7): mean 1000, standard deviation ≈ 29.3; ±150 is over 5 deviations.
        Assert.All(counts, count => Assert.InRange(count, 850, 1150));
        Assert.Throws<ArgumentOutOfRangeException>(() => random.NextInt(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => random.NextInt(-2));
    }

    [Fact]
    public void NextIntRedrawsWhatWouldBiasTheModulo()
    {
        // Draws at or above (2⁶⁴ − 1) − (2⁶⁴ − 1) mod b are redrawn; for b = 3 that is 2⁶⁴ − 1 alone, which a plain
        // modulo would map to 0, giving residue 0 one value more than the others. The state whose first output is
        // 2⁶⁴ − 1 is found by inverting the output function (each step is a bijection); its second output is not
        // 0 mod 3, so a biased NextInt(3) would be caught returning 0.
        var state = StateBefore(ulong.MaxValue);
        var probe = new SplitMix64(state);
        Assert.Equal(ulong.MaxValue, probe.NextUInt64());
        var next = probe.NextUInt64();
        Assert.Equal((int)(next % 3), new SplitMix64(state).NextInt(3));
        Assert.Equal(0, (int)(ulong.MaxValue % 3));
        Assert.NotEqual(0, (int)(next % 3));
    }

    /// <summary>The state from which NextUInt64 returns <paramref name="output"/>.</summary>
    private static ulong StateBefore(ulong output)
    {
        var z = UndoXorShift(output, 31);
        z = UndoXorShift(unchecked(z * Inverse(0x94D049BB133111EBUL)), 27);
        z = UndoXorShift(unchecked(z * Inverse(0xBF58476D1CE4E5B9UL)), 30);
        return unchecked(z - 0x9E3779B97F4A7C15UL);
    }

    private static ulong UndoXorShift(ulong y, int shift)
    {
        var x = y;
        for (var i = 0; i < 64 / shift + 1; i++)
        {
            x = y ^ (x >> shift);
        }
        return x;
    }

    [Fact]
    public void NextDoubleIsTheTop53BitsOfTheNextDrawScaledIntoTheUnitInterval()
    {
        var a = new SplitMix64(123);
        var b = new SplitMix64(123);
        for (var i = 0; i < 1000; i++)
        {
            var value = a.NextDouble();
            Assert.Equal((b.NextUInt64() >> 11) / 9007199254740992.0, value);
            Assert.InRange(value, 0.0, 1.0 - 1.0 / 9007199254740992.0);
        }
    }

    /// <summary>The inverse of an odd number modulo 2⁶⁴, by Newton's iteration (each step doubles the correct bits).</summary>
    private static ulong Inverse(ulong odd)
    {
        var x = odd;
        for (var i = 0; i < 6; i++)
        {
            x = unchecked(x * (2 - odd * x));
        }
        return x;
    }
}
