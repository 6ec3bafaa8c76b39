namespace GradientSurgery.Environments;

/// <summary>
/// One task's environment, as in Gymnasium: <see cref="Reset"/> starts an episode from a seed and writes the first
/// observation; <see cref="Step"/> applies an action and writes the next one. Observations and actions are float32
/// (what a policy network consumes); buffers are the caller's, so a step allocates nothing.
/// </summary>
/// <remarks>
/// Every episode has <see cref="EnvironmentSpec.EpisodeLength"/> steps and then reports
/// <see cref="StepResult.Truncated"/>; <see cref="StepResult.Terminated"/> is for a task that ends early. The same
/// seed and actions give the same observations and rewards, bit for bit. An instance is not thread-safe; a
/// <see cref="VectorEnvironment"/> steps several in parallel.
/// </remarks>
public interface IEnvironment : IDisposable
{
    /// <summary>The task, the sizes and the episode length.</summary>
    EnvironmentSpec Spec { get; }

    /// <summary>Starts an episode: the initial state (and any per-episode goal or object position) drawn from <paramref name="seed"/>.</summary>
    /// <param name="seed">The episode's seed.</param>
    /// <param name="observation">Receives the first observation (length <see cref="EnvironmentSpec.ObservationSize"/>).</param>
    void Reset(ulong seed, Span<float> observation);

    /// <summary>Applies <paramref name="action"/> (each entry clipped to [−1, 1]) for one control step.</summary>
    /// <param name="action">Length <see cref="EnvironmentSpec.ActionSize"/>; NaN or ±Inf is refused.</param>
    /// <param name="observation">Receives the next observation.</param>
    /// <exception cref="ArgumentException">A non-finite action or a buffer of the wrong length; the message names the task and the step.</exception>
    /// <exception cref="InvalidOperationException">No episode is running (call <see cref="Reset"/> first, and again after it ends).</exception>
    StepResult Step(ReadOnlySpan<float> action, Span<float> observation);
}

/// <summary>What an environment is: its task's name, the sizes of its observation and action, and its episode length.</summary>
/// <param name="TaskName">The task's name within its suite (e.g. <c>goal-3</c>, <c>reach</c>).</param>
/// <param name="ObservationSize">Entries of an observation.</param>
/// <param name="ActionSize">Entries of an action, each in [−1, 1].</param>
/// <param name="EpisodeLength">Control steps per episode.</param>
public sealed record EnvironmentSpec(string TaskName, int ObservationSize, int ActionSize, int EpisodeLength);

/// <summary>The outcome of one control step.</summary>
/// <param name="Reward">The dense reward of the step, bounded (each task documents its range).</param>
/// <param name="Terminated">The task reached a terminal state (no further reward can follow).</param>
/// <param name="Truncated">The episode reached its length.</param>
/// <param name="Success">The task's success criterion holds in the state after the step.</param>
public readonly record struct StepResult(double Reward, bool Terminated, bool Truncated, bool Success)
{
    /// <summary>The episode is over (terminated or truncated): reset before stepping again.</summary>
    public bool Done => Terminated || Truncated;
}
