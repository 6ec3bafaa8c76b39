namespace GradientSurgery.Environments.PointMass;

/// <summary>
/// A point mass on a plane pushed by a force, with one goal per task on a circle around the start: from the centre
/// the tasks pull a shared policy in different directions (opposite ones for tasks half a circle apart), which is
/// what makes their gradients conflict. Pure C#; thousands of steps per millisecond. See <see cref="PointMassSuite"/>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>State: position p and velocity v in ℝ²; an episode starts at rest at a position drawn uniformly from
/// [−<see cref="StartSpread"/>, <see cref="StartSpread"/>]² with the episode's seed.</item>
/// <item>Action a ∈ [−1, 1]² (clipped), a force: v ← (1 − <see cref="Damping"/>·Δt) v + <see cref="Acceleration"/>·Δt·a,
/// p ← p + Δt·v, Δt = <see cref="TimeStep"/>; the arena is [−<see cref="ArenaHalfWidth"/>, <see cref="ArenaHalfWidth"/>]²
/// and a wall stops the velocity component that pushes into it.</item>
/// <item>Observation (4 floats): p_x, p_y, v_x, v_y. The goal is not observed: as in Meta-World MT10, a multi-task
/// policy learns which task it is in from the task's one-hot identity, which the agent appends.</item>
/// <item>Reward: 1 − min(‖p − g‖ / (2R), 1) ∈ [0, 1] with R the goal radius: dense, 0.5 at the centre, 1 at the goal.</item>
/// <item>Success: ‖p − g‖ &lt; <see cref="SuccessRadius"/>. Episodes last <see cref="PointMassSuite.EpisodeLength"/> steps.</item>
/// </list>
/// </remarks>
public sealed class PointMassEnvironment : IEnvironment, ITrackedEnvironment
{
    /// <summary>Δt of one control step (s).</summary>
    public const double TimeStep = 0.1;

    /// <summary>Acceleration of a full force (units/s²).</summary>
    public const double Acceleration = 2.0;

    /// <summary>Linear damping of the velocity (1/s).</summary>
    public const double Damping = 2.0;

    /// <summary>Half the side of the square arena.</summary>
    public const double ArenaHalfWidth = 1.5;

    /// <summary>Half the side of the square the start position is drawn from.</summary>
    public const double StartSpread = 0.1;

    /// <summary>Distance to the goal below which the task counts as solved.</summary>
    public const double SuccessRadius = 0.1;

    private readonly double _goalX;
    private readonly double _goalY;
    private readonly double _goalRadius;
    private double _x, _y, _vx, _vy;
    private int _step = -1;

    /// <summary>Creates task <paramref name="task"/> of <paramref name="taskCount"/>: its goal at angle 2π·task/taskCount on a circle of radius <paramref name="goalRadius"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No tasks, a task index out of range, or a radius outside (0, <see cref="ArenaHalfWidth"/>).</exception>
    public PointMassEnvironment(int task, int taskCount, double goalRadius = 1.0, int episodeLength = PointMassSuite.EpisodeLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(taskCount);
        ArgumentOutOfRangeException.ThrowIfNegative(task);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(task, taskCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(episodeLength);
        if (!(goalRadius > 0 && goalRadius < ArenaHalfWidth))
        {
            throw new ArgumentOutOfRangeException(nameof(goalRadius), goalRadius, $"The goal radius must be in (0, {ArenaHalfWidth}).");
        }
        var angle = 2 * Math.PI * task / taskCount;
        (_goalX, _goalY, _goalRadius) = (goalRadius * Math.Cos(angle), goalRadius * Math.Sin(angle), goalRadius);
        Spec = new EnvironmentSpec(PointMassSuite.TaskName(task), ObservationSize: 4, ActionSize: 2, episodeLength);
    }

    /// <inheritdoc />
    public EnvironmentSpec Spec { get; }

    /// <summary>The goal of this task.</summary>
    public (double X, double Y) Goal => (_goalX, _goalY);

    /// <summary>The current position (a policy sees it in the observation).</summary>
    public (double X, double Y) Position => (_x, _y);

    /// <inheritdoc />
    (double X, double Y, double Z) ITrackedEnvironment.Hand => (_x, _y, 0);

    /// <inheritdoc />
    (double X, double Y, double Z)? ITrackedEnvironment.Object => null;

    /// <inheritdoc />
    (double X, double Y, double Z) ITrackedEnvironment.Goal => (_goalX, _goalY, 0);

    /// <inheritdoc />
    public void Reset(ulong seed, Span<float> observation)
    {
        ActionInput.RequireLength(observation.Length, Spec.ObservationSize, "observation buffer", Spec);
        var random = new SplitMix64(seed);
        _x = StartSpread * (2 * random.NextDouble() - 1);
        _y = StartSpread * (2 * random.NextDouble() - 1);
        _vx = _vy = 0;
        _step = 0;
        Observe(observation);
    }

    /// <inheritdoc />
    public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        if (_step < 0 || _step >= Spec.EpisodeLength)
        {
            throw new InvalidOperationException($"Task {Spec.TaskName}: no episode is running; call Reset first (and again after an episode ends).");
        }
        ActionInput.RequireLength(observation.Length, Spec.ObservationSize, "observation buffer", Spec);
        Span<double> force = stackalloc double[2];
        ActionInput.Clip(action, force, Spec, _step);
        var keep = 1 - Damping * TimeStep;
        _vx = keep * _vx + Acceleration * TimeStep * force[0];
        _vy = keep * _vy + Acceleration * TimeStep * force[1];
        (_x, _vx) = Wall(_x + TimeStep * _vx, _vx);
        (_y, _vy) = Wall(_y + TimeStep * _vy, _vy);
        _step++;
        Observe(observation);
        var distance = Math.Sqrt((_x - _goalX) * (_x - _goalX) + (_y - _goalY) * (_y - _goalY));
        var reward = 1 - Math.Min(distance / (2 * _goalRadius), 1);
        return new StepResult(reward, Terminated: false, Truncated: _step == Spec.EpisodeLength, Success: distance < SuccessRadius);
    }

    /// <summary>Nothing native to release.</summary>
    public void Dispose()
    {
    }

    private static (double Position, double Velocity) Wall(double position, double velocity) =>
        position > ArenaHalfWidth ? (ArenaHalfWidth, Math.Min(velocity, 0))
        : position < -ArenaHalfWidth ? (-ArenaHalfWidth, Math.Max(velocity, 0))
        : (position, velocity);

    private void Observe(Span<float> observation)
    {
        observation[0] = (float)_x;
        observation[1] = (float)_y;
        observation[2] = (float)_vx;
        observation[3] = (float)_vy;
    }
}
