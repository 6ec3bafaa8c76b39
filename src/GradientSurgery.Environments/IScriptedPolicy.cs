namespace GradientSurgery.Environments;

/// <summary>
/// A hand-written controller for one task, reading the observation: it proves that the task can be solved and that its
/// success criterion is sane (Meta-World tests its own tasks this way), and it is the reference an agent is judged by.
/// </summary>
public interface IScriptedPolicy
{
    /// <summary>The action for <paramref name="observation"/>, each entry in [−1, 1].</summary>
    void Act(ReadOnlySpan<float> observation, Span<float> action);
}

/// <summary>
/// An environment that can say where its hand and (if it has one) its main object are, for trajectory plots; a policy
/// never needs it (the observation carries what a policy may see).
/// </summary>
public interface ITrackedEnvironment
{
    /// <summary>The hand's (or point mass's) position (x, y, z); z is 0 for a planar task.</summary>
    (double X, double Y, double Z) Hand { get; }

    /// <summary>The main object's position, or null for a task without one.</summary>
    (double X, double Y, double Z)? Object { get; }

    /// <summary>Where the hand or object must go in the current episode.</summary>
    (double X, double Y, double Z) Goal { get; }
}
