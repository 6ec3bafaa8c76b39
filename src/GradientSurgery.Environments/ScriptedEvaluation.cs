using System.Diagnostics;

namespace GradientSurgery.Environments;

/// <summary>Runs a suite's scripted policies: success rate, mean return and speed per task, and a few trajectories to plot.</summary>
public static class ScriptedEvaluation
{
    /// <summary>One position along an episode.</summary>
    public readonly record struct Point(double X, double Y, double Z);

    /// <summary>The hand's and the object's path through one episode, and the episode's goal.</summary>
    public sealed record Trajectory(IReadOnlyList<Point> Hand, IReadOnlyList<Point>? Object, Point Goal, bool Success);

    /// <summary>One task's results.</summary>
    /// <param name="Task">The task's name.</param>
    /// <param name="SuccessRate">Fraction of episodes in which the success criterion held at some step (Meta-World's criterion).</param>
    /// <param name="MeanReturn">Mean summed reward per episode.</param>
    /// <param name="StepsPerSecond">
    /// Control steps per second of wall-clock time, policy included, on one thread; measured from the second episode on
    /// (the first pays for compiling the code), or over the only one.
    /// </param>
    /// <param name="Trajectories">The first few episodes' paths (empty for an environment that is not tracked).</param>
    public sealed record TaskResult(string Task, double SuccessRate, double MeanReturn, double StepsPerSecond, IReadOnlyList<Trajectory> Trajectories);

    /// <summary>Runs <paramref name="episodes"/> episodes of every task of <paramref name="suite"/> with its scripted policies.</summary>
    /// <param name="suite">The suite; it must have scripted policies.</param>
    /// <param name="episodes">Episodes per task.</param>
    /// <param name="seed">Seeds the episodes (episode k of task t uses a seed drawn from one generator per task).</param>
    /// <param name="recorded">How many episodes per task to record as trajectories.</param>
    /// <param name="progress">Called after each finished episode with (task index, episodes done).</param>
    /// <exception cref="InvalidOperationException">The suite has no scripted policies.</exception>
    public static IReadOnlyList<TaskResult> Run(Suite suite, int episodes, ulong seed, int recorded = 3, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(episodes);
        ArgumentOutOfRangeException.ThrowIfNegative(recorded);
        var seeds = new SplitMix64(seed);
        var results = new List<TaskResult>();
        for (var task = 0; task < suite.TaskNames.Count; task++)
        {
            var taskSeeds = new SplitMix64(seeds.NextUInt64());
            using var environment = suite.Create(task);
            var policy = suite.CreateScriptedPolicy(task, environment);
            var spec = environment.Spec;
            var observation = new float[spec.ObservationSize];
            var action = new float[spec.ActionSize];
            var (successes, totalReturn, steps) = (0, 0.0, 0L);
            var trajectories = new List<Trajectory>();
            var clock = Stopwatch.StartNew();
            for (var episode = 0; episode < episodes; episode++)
            {
                if (episode == 1)
                {
                    (steps, clock) = (0, Stopwatch.StartNew());
                }
                environment.Reset(taskSeeds.NextUInt64(), observation);
                var tracked = episode < recorded ? environment as ITrackedEnvironment : null;
                List<Point>? hand = tracked is null ? null : [Hand(tracked)];
                List<Point>? thing = tracked?.Object is { } first ? [At(first)] : null;
                var (success, episodeReturn) = (false, 0.0);
                StepResult result;
                do
                {
                    policy.Act(observation, action);
                    result = environment.Step(action, observation);
                    (success, episodeReturn) = (success | result.Success, episodeReturn + result.Reward);
                    steps++;
                    hand?.Add(Hand(tracked!));
                    if (thing is not null && tracked!.Object is { } position)
                    {
                        thing.Add(At(position));
                    }
                }
                while (!result.Done);
                successes += success ? 1 : 0;
                totalReturn += episodeReturn;
                if (tracked is not null)
                {
                    trajectories.Add(new Trajectory(hand!, thing, At(tracked.Goal), success));
                }
                progress?.Invoke(task, episode + 1);
            }
            results.Add(new TaskResult(spec.TaskName, (double)successes / episodes, totalReturn / episodes, steps / clock.Elapsed.TotalSeconds, trajectories));
        }
        return results;
    }

    private static Point Hand(ITrackedEnvironment environment) => At(environment.Hand);

    private static Point At((double X, double Y, double Z) position) => new(position.X, position.Y, position.Z);
}
