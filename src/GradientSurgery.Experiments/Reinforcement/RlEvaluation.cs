using GradientSurgery.Environments;
using GradientSurgery.Rl;

namespace GradientSurgery.Experiments.Reinforcement;

/// <summary>Deterministic evaluation of a multi-task agent: fresh episodes of every task, acting with the mean action.</summary>
public static class RlEvaluation
{
    /// <summary>One evaluation's outcome per task.</summary>
    /// <param name="Success">Fraction of episodes that succeeded at some step (Meta-World's criterion).</param>
    /// <param name="Return">Mean episode return.</param>
    public sealed record Result(double[] Success, double[] Return);

    /// <summary>Runs <paramref name="episodes"/> episodes of each task (one environment per episode, stepped together) with the mean action.</summary>
    /// <param name="agent">The agent (its noise generator is not touched).</param>
    /// <param name="suite">The suite the agent was trained on.</param>
    /// <param name="episodes">Episodes per task.</param>
    /// <param name="seed">Seeds the episodes.</param>
    /// <param name="maxParallelism">Threads stepping the environments; null for all cores.</param>
    public static Result Run(MultiTaskSac agent, Suite suite, int episodes, ulong seed, int? maxParallelism = null)
    {
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(episodes);
        var tasks = suite.TaskNames.Count;
        using var vector = suite.CreateVector(episodes, seed, maxParallelism);
        vector.Reset();
        var taskOf = vector.Tasks.ToArray();
        var actions = new float[vector.Count * vector.ActionSize];
        var finished = new bool[vector.Count];
        var (successes, returns) = (new double[tasks], new double[tasks]);
        var remaining = vector.Count;
        while (remaining > 0)
        {
            agent.Act(vector.Observations, taskOf, deterministic: true, actions);
            vector.Step(actions);
            for (var i = 0; i < vector.Count; i++)
            {
                if (!finished[i] && vector.Done(i))
                {
                    finished[i] = true;
                    remaining--;
                    successes[taskOf[i]] += vector.EpisodeSuccesses[i] ? 1 : 0;
                    returns[taskOf[i]] += vector.EpisodeReturns[i];
                }
            }
        }
        return new Result([.. successes.Select(s => s / episodes)], [.. returns.Select(r => r / episodes)]);
    }
}
