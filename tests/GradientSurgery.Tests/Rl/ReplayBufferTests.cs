using GradientSurgery.Rl;

namespace GradientSurgery.Tests.Rl;

/// <summary>The per-task replay buffer: ring overwrite, balanced seeded sampling, checkpoint round trip, bad input.</summary>
public sealed class ReplayBufferTests
{
    // Transition k of task t: observation (t, k), action (k), reward k, next observation (t, k + 1), terminal every 5th.
    private static void Fill(ReplayBuffer buffer, int task, int from, int to)
    {
        for (var k = from; k < to; k++)
        {
            buffer.Add(task, [task, k], [k], k, [task, k + 1], k % 5 == 4);
        }
    }

    [Fact]
    public void EachTaskKeepsItsNewestTransitionsAndSamplesAreBalancedAndConsistent()
    {
        var buffer = new ReplayBuffer(taskCount: 3, capacityPerTask: 10, observationSize: 2, actionSize: 1);
        Fill(buffer, 0, 0, 25);   // wrapped twice: keeps 15 … 24
        Fill(buffer, 1, 0, 4);
        Fill(buffer, 2, 100, 101);
        Assert.Equal([10, 4, 1], Enumerable.Range(0, 3).Select(buffer.Count));
        var batch = buffer.Sample(perTask: 64, new SplitMix64(1));
        Assert.Equal(3 * 64, batch.TaskIds.Length);
        Assert.Equal(Enumerable.Range(0, 3).SelectMany(t => Enumerable.Repeat((long)t, 64)), batch.TaskIds);
        var seen = new HashSet<(long, float)>();
        for (var row = 0; row < batch.TaskIds.Length; row++)
        {
            var (task, k) = (batch.TaskIds[row], batch.Observations[(2 * row) + 1]);
            Assert.Equal(task, batch.Observations[2 * row]);
            Assert.Equal(k, batch.Actions[row]);
            Assert.Equal(k, batch.Rewards[row]);
            Assert.Equal(k + 1, batch.NextObservations[(2 * row) + 1]);
            Assert.Equal(k % 5 == 4 ? 1f : 0f, batch.Terminated[row]);
            seen.Add((task, k));
        }
        Assert.All(seen.Where(s => s.Item1 == 0), s => Assert.InRange(s.Item2, 15, 24));
        Assert.Equal(10, seen.Count(s => s.Item1 == 0));   // 64 draws (seed 1) reach every one of the 10 slots
        Assert.Equal(4, seen.Count(s => s.Item1 == 1));
        Assert.Equal([(2L, 100f)], seen.Where(s => s.Item1 == 2));
    }

    [Fact]
    public void TheSameSeedDrawsTheSameBatch()
    {
        var buffer = new ReplayBuffer(2, 50, 2, 1);
        Fill(buffer, 0, 0, 50);
        Fill(buffer, 1, 0, 30);
        Assert.Equal(buffer.Sample(16, new SplitMix64(9)).Observations, buffer.Sample(16, new SplitMix64(9)).Observations);
        Assert.NotEqual(buffer.Sample(16, new SplitMix64(9)).Observations, buffer.Sample(16, new SplitMix64(10)).Observations);
    }

    [Fact]
    public void ASavedBufferLoadsBackAndContinuesIdentically()
    {
        var buffer = new ReplayBuffer(2, 8, 2, 1);
        Fill(buffer, 0, 0, 13);
        Fill(buffer, 1, 0, 3);
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            buffer.Save(writer);
        }
        stream.Position = 0;
        var loaded = ReplayBuffer.Load(new BinaryReader(stream));
        Fill(buffer, 0, 13, 16);
        Fill(loaded, 0, 13, 16);
        Assert.Equal(buffer.Sample(32, new SplitMix64(3)), loaded.Sample(32, new SplitMix64(3)), new BatchComparer());

        var bytes = stream.ToArray();
        var truncated = Assert.Throws<InvalidDataException>(() => ReplayBuffer.Load(new BinaryReader(new MemoryStream(bytes[..^3]))));
        Assert.Contains("truncated in task 1", truncated.Message);
        var corrupt = (byte[])bytes.Clone();
        corrupt[0] = (byte)'X';
        Assert.Contains("magic", Assert.Throws<InvalidDataException>(() => ReplayBuffer.Load(new BinaryReader(new MemoryStream(corrupt)))).Message);
        var badCount = (byte[])bytes.Clone();
        BitConverter.GetBytes(99).CopyTo(badCount, 24);   // task 0's count, after magic, version and four sizes
        Assert.Contains("task 0: count 99", Assert.Throws<InvalidDataException>(() => ReplayBuffer.Load(new BinaryReader(new MemoryStream(badCount)))).Message);
    }

    [Fact]
    public void BadTransitionsAndEarlySamplingAreRefusedByName()
    {
        var buffer = new ReplayBuffer(2, 4, 2, 1);
        Assert.Contains("Task 1: observation entry 1 is NaN", Assert.Throws<ArgumentException>(() => buffer.Add(1, [0f, float.NaN], [0f], 0f, [0f, 0f], false)).Message);
        Assert.Contains("Task 0: the action has 2 entries, expected 1", Assert.Throws<ArgumentException>(() => buffer.Add(0, [0f, 0f], [0f, 1f], 0f, [0f, 0f], false)).Message);
        Assert.Contains("Task 0: reward entry 0 is Infinity", Assert.Throws<ArgumentException>(() => buffer.Add(0, [0f, 0f], [0f], float.PositiveInfinity, [0f, 0f], false)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Add(2, [0f, 0f], [0f], 0f, [0f, 0f], false));
        Fill(buffer, 0, 0, 2);
        Assert.Contains("Task 1 has no transition", Assert.Throws<InvalidOperationException>(() => buffer.Sample(4, new SplitMix64(0))).Message);
    }

    private sealed class BatchComparer : IEqualityComparer<ReplayBatch>
    {
        public bool Equals(ReplayBatch? a, ReplayBatch? b) => a is not null && b is not null && a.PerTask == b.PerTask
            && a.Observations.SequenceEqual(b.Observations) && a.Actions.SequenceEqual(b.Actions) && a.Rewards.SequenceEqual(b.Rewards)
            && a.NextObservations.SequenceEqual(b.NextObservations) && a.Terminated.SequenceEqual(b.Terminated) && a.TaskIds.SequenceEqual(b.TaskIds);

        public int GetHashCode(ReplayBatch batch) => batch.PerTask;
    }
}
