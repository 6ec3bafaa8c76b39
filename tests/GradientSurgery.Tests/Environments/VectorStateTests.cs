using GradientSurgery.Environments;

namespace GradientSurgery.Tests.Environments;

/// <summary>A vector's saved state puts a fresh vector mid-episode exactly where the original is, for the RL checkpoints.</summary>
public sealed class VectorStateTests
{
    private static float[] Actions(int step, int count) => [.. Enumerable.Range(0, count).Select(k => MathF.Sin((0.37f * step) + (1.3f * k)))];

    // Steps the original `before` times, saves, restores into a fresh vector, then steps both `after` times with the
    // same actions: every observation, reward, flag and episode statistic must be equal bit for bit.
    private static void AssertRestoredVectorContinuesExactly(Suite suite, int perTask, int before, int after)
    {
        using var original = suite.CreateVector(perTask, seed: 17);
        original.Reset();
        for (var step = 0; step < before; step++)
        {
            original.Step(Actions(step, original.Count * original.ActionSize));
        }
        using var stream = new MemoryStream();
        original.SaveState(new BinaryWriter(stream));
        using var restored = suite.CreateVector(perTask, seed: 99);   // another seed: everything must come from the state
        restored.LoadState(new BinaryReader(new MemoryStream(stream.ToArray())));
        Assert.Equal(original.Observations, restored.Observations);
        for (var step = before; step < before + after; step++)
        {
            var actions = Actions(step, original.Count * original.ActionSize);
            original.Step(actions);
            restored.Step(actions);
            Assert.Equal(original.Observations, restored.Observations);
            Assert.Equal(original.Rewards, restored.Rewards);
            Assert.Equal(original.Terminated, restored.Terminated);
            foreach (var i in Enumerable.Range(0, original.Count))
            {
                // An episode's return and success are reported in the step that ends it.
                Assert.Equal(original.Done(i), restored.Done(i));
                if (original.Done(i))
                {
                    Assert.Equal(original.EpisodeReturns[i], restored.EpisodeReturns[i]);
                    Assert.Equal(original.EpisodeSuccesses[i], restored.EpisodeSuccesses[i]);
                    Assert.Equal(original.FinalObservations.AsSpan(i * original.ObservationSize, original.ObservationSize).ToArray(), restored.FinalObservations.AsSpan(i * original.ObservationSize, original.ObservationSize).ToArray());
                }
            }
        }
    }

    [Fact]
    public void APointMassVectorRestoredMidEpisodeContinuesBitForBitAcrossTheNextReset()
    {
        // 70 steps: one episode of 50 done, 20 into the next; 60 more cross the next episode boundary.
        AssertRestoredVectorContinuesExactly(Suite.Find("pointmass"), perTask: 2, before: 70, after: 60);
    }

    [MuJoCoFact]
    public void AManipulationVectorRestoredMidEpisodeContinuesBitForBit()
    {
        AssertRestoredVectorContinuesExactly(Suite.Find("mt10"), perTask: 1, before: 40, after: 30);
    }

    [Fact]
    public void AStateOfAnotherVectorIsRefusedWithWhatDiffers()
    {
        using var four = Suite.Find("pointmass").CreateVector(1, seed: 1);
        Assert.Throws<InvalidOperationException>(() => four.SaveState(new BinaryWriter(new MemoryStream())));
        four.Reset();
        using var stream = new MemoryStream();
        four.SaveState(new BinaryWriter(stream));
        using var eight = Suite.Find("pointmass").CreateVector(2, seed: 1);
        var error = Assert.Throws<InvalidDataException>(() => eight.LoadState(new BinaryReader(new MemoryStream(stream.ToArray()))));
        Assert.Contains("4 environments; this one has 8", error.Message);
    }
}
