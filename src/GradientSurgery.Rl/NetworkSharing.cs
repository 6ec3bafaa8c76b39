namespace GradientSurgery.Rl;

/// <summary>How a multi-task agent's network is shared among the tasks (the MT-SAC family of Meta-World's baselines).</summary>
public enum NetworkSharing
{
    /// <summary>One network for all tasks; the task's one-hot identity is appended to its input (MT-SAC).</summary>
    OneHot,

    /// <summary>
    /// A shared trunk (input with the one-hot identity appended) and one output head per task (multi-head SAC): head t's
    /// weights are task-specific, everything before it is shared.
    /// </summary>
    MultiHead,

    /// <summary>One independent network per task, nothing shared (one SAC per task, the upper bound of the paper's table).</summary>
    Independent,
}
