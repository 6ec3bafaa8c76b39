namespace GradientSurgery.Environments.PointMass;

/// <summary>
/// The point-mass suite: T tasks whose goals lie evenly spaced on a circle of radius 1 around the start (task k's at
/// angle 2πk/T), so that from the centre the tasks pull one policy in different, partly opposite directions.
/// </summary>
public static class PointMassSuite
{
    /// <summary>Control steps per episode: 50 steps of 0.1 s, enough to reach a goal at full force in about 10.</summary>
    public const int EpisodeLength = 50;

    /// <summary>The default number of tasks (goals every 90°: two pairs of opposite tasks).</summary>
    public const int DefaultTaskCount = 4;

    /// <summary>The name of task <paramref name="task"/>: <c>goal-k</c>.</summary>
    public static string TaskName(int task) => $"goal-{task}";

    /// <summary>The suite's descriptor with <paramref name="taskCount"/> tasks.</summary>
    public static Suite Create(int taskCount = DefaultTaskCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(taskCount);
        return new Suite(
            "pointmass",
            [.. Enumerable.Range(0, taskCount).Select(TaskName)],
            task => new PointMassEnvironment(task, taskCount),
            (_, environment) => new PointMassScriptedPolicy(((PointMassEnvironment)environment).Goal));
    }
}
