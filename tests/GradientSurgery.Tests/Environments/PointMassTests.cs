using GradientSurgery.Environments;
using GradientSurgery.Environments.PointMass;

namespace GradientSurgery.Tests.Environments;

public sealed class PointMassTests
{
    /// <summary>A proportional-derivative controller toward the task's goal: the scripted policy that proves each task solvable.</summary>
    internal static void Scripted(PointMassEnvironment environment, ReadOnlySpan<float> observation, Span<float> action)
    {
        var (gx, gy) = environment.Goal;
        action[0] = (float)Math.Clamp(4 * (gx - observation[0]) - 2 * observation[2], -1, 1);
        action[1] = (float)Math.Clamp(4 * (gy - observation[1]) - 2 * observation[3], -1, 1);
    }

    private static (List<float[]> Observations, List<StepResult> Results) Episode(PointMassEnvironment environment, ulong seed, Func<int, float[]> actions)
    {
        var observation = new float[4];
        environment.Reset(seed, observation);
        var observations = new List<float[]> { observation.ToArray() };
        var results = new List<StepResult>();
        for (var step = 0; step < environment.Spec.EpisodeLength; step++)
        {
            results.Add(environment.Step(actions(step), observation));
            observations.Add(observation.ToArray());
        }
        return (observations, results);
    }

    [Fact]
    public void TheSameSeedAndActionsGiveTheSameTrajectoryBitForBit()
    {
        float[] Actions(int step) => [MathF.Sin(step), MathF.Cos(0.3f * step)];
        var a = Episode(new PointMassEnvironment(1, 4), 42, Actions);
        var b = Episode(new PointMassEnvironment(1, 4), 42, Actions);
        var c = Episode(new PointMassEnvironment(1, 4), 43, Actions);
        Assert.Equal(a.Observations.SelectMany(o => o), b.Observations.SelectMany(o => o));
        Assert.Equal(a.Results, b.Results);
        Assert.NotEqual(a.Observations[0], c.Observations[0]);
    }

    [Fact]
    public void ObservationsStayInTheArenaRewardsInTheUnitIntervalAndEpisodesHaveTheirLength()
    {
        var environment = new PointMassEnvironment(0, 4);
        var (observations, results) = Episode(environment, 7, _ => [1f, 1f]);
        Assert.All(observations, o => Assert.True(Math.Abs(o[0]) <= PointMassEnvironment.ArenaHalfWidth && Math.Abs(o[1]) <= PointMassEnvironment.ArenaHalfWidth));
        Assert.Equal(PointMassEnvironment.ArenaHalfWidth, observations[^1][0], 6);
        Assert.All(results, r => Assert.InRange(r.Reward, 0.0, 1.0));
        Assert.Equal(PointMassSuite.EpisodeLength, results.Count);
        Assert.All(results[..^1], r => Assert.False(r.Done));
        Assert.True(results[^1].Truncated);
        Assert.False(results[^1].Terminated);
        Assert.Throws<InvalidOperationException>(() => environment.Step([0f, 0f], new float[4]));
    }

    [Fact]
    public void TheRewardIsOneHalfAtTheCentreAndOneAtTheGoal()
    {
        var environment = new PointMassEnvironment(0, 4);
        var observation = new float[4];
        environment.Reset(0, observation);
        var start = environment.Step([0f, 0f], observation);
        var distance = Math.Sqrt(Math.Pow(observation[0] - 1.0, 2) + Math.Pow(observation[1], 2));
        Assert.Equal(1 - distance / 2, start.Reward, 6);
        Assert.InRange(start.Reward, 0.44, 0.56);
        var (_, idle) = Episode(environment, 0, _ => [0f, 0f]);
        Assert.All(idle, r => Assert.False(r.Success));
        var action = new float[2];
        environment.Reset(0, observation);
        var last = default(StepResult);
        for (var step = 0; step < environment.Spec.EpisodeLength; step++)
        {
            Scripted(environment, observation, action);
            last = environment.Step(action, observation);
        }
        Assert.True(last.Success);
        Assert.InRange(last.Reward, 1 - PointMassEnvironment.SuccessRadius / 2, 1.0);
    }

    [Fact]
    public void AScriptedControllerSolvesEveryTaskInEveryEpisode()
    {
        var suite = PointMassSuite.Create(8);
        for (var task = 0; task < suite.TaskNames.Count; task++)
        {
            var environment = (PointMassEnvironment)suite.Create(task);
            var observation = new float[4];
            var action = new float[2];
            for (ulong seed = 0; seed < 20; seed++)
            {
                environment.Reset(seed, observation);
                var solved = false;
                for (var step = 0; step < environment.Spec.EpisodeLength; step++)
                {
                    Scripted(environment, observation, action);
                    solved |= environment.Step(action, observation).Success;
                }
                Assert.True(solved, $"task {task}, seed {seed}: ended at ({observation[0]}, {observation[1]}), goal {environment.Goal}");
            }
        }
    }

    [Fact]
    public void GoalsHalfACircleApartPullInOppositeDirections()
    {
        var suite = PointMassSuite.Create(4);
        var goals = Enumerable.Range(0, 4).Select(t => ((PointMassEnvironment)suite.Create(t)).Goal).ToArray();
        Assert.Equal(-1.0, goals[0].X * goals[2].X + goals[0].Y * goals[2].Y, 12);
        Assert.Equal(0.0, goals[0].X * goals[1].X + goals[0].Y * goals[1].Y, 12);
        Assert.Equal(["goal-0", "goal-1", "goal-2", "goal-3"], suite.TaskNames);
    }

    [Fact]
    public void ActionsAreClippedAndNonFiniteOnesAreRefusedWithTheTaskAndStep()
    {
        var a = new PointMassEnvironment(2, 4);
        var b = new PointMassEnvironment(2, 4);
        var (oa, ob) = (new float[4], new float[4]);
        a.Reset(5, oa);
        b.Reset(5, ob);
        a.Step([10f, -3f], oa);
        b.Step([1f, -1f], ob);
        Assert.Equal(oa, ob);
        var error = Assert.Throws<ArgumentException>(() => a.Step([float.NaN, 0f], oa));
        Assert.Contains("Task goal-2, step 1: action entry 0 is NaN", error.Message);
        Assert.Contains("3 entries", Assert.Throws<ArgumentException>(() => a.Step([0f, 0f, 0f], oa)).Message);
        Assert.Throws<InvalidOperationException>(() => new PointMassEnvironment(0, 2).Step([0f, 0f], oa));
    }

    [Fact]
    public void TheVectorIsDeterministicWhateverItsParallelismAndResetsFinishedEpisodes()
    {
        var suite = PointMassSuite.Create(4);
        using var sequential = new VectorEnvironment([.. Enumerable.Range(0, 6).Select(i => suite.Create(i % 4))], [0, 1, 2, 3, 0, 1], seed: 9, maxParallelism: 1);
        using var parallel = new VectorEnvironment([.. Enumerable.Range(0, 6).Select(i => suite.Create(i % 4))], [0, 1, 2, 3, 0, 1], seed: 9, maxParallelism: 2);
        sequential.Reset();
        parallel.Reset();
        Assert.Equal(sequential.Observations, parallel.Observations);
        Assert.NotEqual(sequential.Observations.AsSpan(0, 4).ToArray(), sequential.Observations.AsSpan(16, 4).ToArray());
        var actions = new float[12];
        var sum = 0.0;
        for (var step = 1; step <= PointMassSuite.EpisodeLength + 3; step++)
        {
            for (var i = 0; i < actions.Length; i++)
            {
                actions[i] = MathF.Sin(step * (i + 1));
            }
            sequential.Step(actions);
            parallel.Step(actions);
            Assert.Equal(sequential.Observations, parallel.Observations);
            Assert.Equal(sequential.Rewards, parallel.Rewards);
            sum += sequential.Rewards[3];
            if (step == PointMassSuite.EpisodeLength)
            {
                Assert.All(Enumerable.Range(0, 6), i => Assert.True(sequential.Done(i)));
                Assert.Equal(sum, sequential.EpisodeReturns[3], 12);
                // The final observation is the episode's last; the row itself already starts the next episode near the centre.
                Assert.NotEqual(sequential.FinalObservations.AsSpan(12, 4).ToArray(), sequential.Observations.AsSpan(12, 4).ToArray());
                Assert.All(sequential.Observations.Where((_, k) => k % 4 < 2), x => Assert.InRange(x, -0.1f, 0.1f));
            }
        }
    }

    [Fact]
    public void TheVectorRefusesMismatchedEnvironmentsAndPassesTheEnvironmentsOwnErrors()
    {
        using var one = PointMassSuite.Create(2).CreateVector(perTask: 2, seed: 1);
        Assert.Equal([0, 0, 1, 1], one.Tasks);
        Assert.Throws<InvalidOperationException>(() => one.Step(new float[8]));
        one.Reset();
        var actions = new float[8];
        actions[5] = float.PositiveInfinity;
        var error = Assert.Throws<ArgumentException>(() => one.Step(actions));
        Assert.Contains("Task goal-1, step 0: action entry 1 is Infinity", error.Message);
        Assert.Throws<ArgumentException>(() => one.Step(new float[3]));
        Assert.Contains("Unknown suite 'mt99'", Assert.Throws<ArgumentException>(() => Suite.Find("mt99")).Message);
    }
}
