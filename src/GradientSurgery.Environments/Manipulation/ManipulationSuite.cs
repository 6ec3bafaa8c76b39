namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// <c>mt10</c>: ten MuJoCo manipulation tasks in the spirit of Meta-World MT10 (reach, push, pick-place, drawer-open,
/// drawer-close, window-open, window-close, button-press-topdown, door-open, peg-insert-side), our own models and
/// rewards on one table-and-gripper scene. Needs MuJoCo 2.2.2 (<c>apt-get install libmujoco2.2.2</c>).
/// </summary>
public static class ManipulationSuite
{
    private static readonly Func<ManipulationTask>[] Tasks = [() => new ReachTask(), () => new PushTask(), () => new PickPlaceTask(), () => new DrawerTask(open: true), () => new DrawerTask(open: false), () => new WindowTask(open: true), () => new WindowTask(open: false), () => new ButtonTask(), () => new DoorTask(), () => new PegInsertTask()];

    /// <summary>The suite's descriptor.</summary>
    /// <exception cref="MuJoCo.MuJoCoUnavailableException">MuJoCo 2.2.2 is not installed.</exception>
    public static Suite Create()
    {
        MuJoCo.MuJoCoLibrary.EnsureAvailable();
        return new Suite(
            "mt10",
            [.. Tasks.Select(t => t().Name)],
            task => new ManipulationEnvironment(Tasks[task]()),
            (task, _) => Tasks[task]().ScriptedPolicy());
    }
}
