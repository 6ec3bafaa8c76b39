namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// The MuJoCo manipulation tasks built so far (reach, push, pick-place, drawer-open, drawer-close, window-open, window-close), on the way to the ten of Meta-World MT10. Needs MuJoCo
/// 2.2.2 (<c>apt-get install libmujoco2.2.2</c>).
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
            "manipulation",
            [.. Tasks.Select(t => t().Name)],
            task => new ManipulationEnvironment(Tasks[task]()),
            (task, _) => Tasks[task]().ScriptedPolicy());
    }
}
