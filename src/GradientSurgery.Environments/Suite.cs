using GradientSurgery.Environments.Manipulation;
using GradientSurgery.Environments.PointMass;

namespace GradientSurgery.Environments;

/// <summary>A suite of tasks that one multi-task policy learns together: its name, its tasks, and how to make each task's environment.</summary>
public sealed class Suite
{
    private readonly Func<int, IEnvironment> _create;
    private readonly Func<int, IEnvironment, IScriptedPolicy>? _scripted;

    /// <summary>Describes a suite.</summary>
    /// <param name="name">The suite's name (e.g. <c>pointmass</c>).</param>
    /// <param name="taskNames">The tasks, in index order.</param>
    /// <param name="create">Makes a new environment of the task with the given index.</param>
    /// <param name="scripted">Makes the scripted policy of a task for one of its environments (null when the suite has none).</param>
    public Suite(string name, IReadOnlyList<string> taskNames, Func<int, IEnvironment> create, Func<int, IEnvironment, IScriptedPolicy>? scripted = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(taskNames);
        ArgumentNullException.ThrowIfNull(create);
        if (taskNames.Count == 0)
        {
            throw new ArgumentException($"Suite {name} has no tasks.", nameof(taskNames));
        }
        (Name, TaskNames, _create, _scripted) = (name, taskNames, create, scripted);
    }

    /// <summary>The suite's name.</summary>
    public string Name { get; }

    /// <summary>The tasks, in index order.</summary>
    public IReadOnlyList<string> TaskNames { get; }

    /// <summary>Makes a new environment of task <paramref name="task"/>.</summary>
    public IEnvironment Create(int task)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(task);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(task, TaskNames.Count);
        return _create(task);
    }

    /// <summary>The scripted policy of task <paramref name="task"/>, acting in <paramref name="environment"/> (one of that task's).</summary>
    /// <exception cref="InvalidOperationException">The suite has no scripted policies.</exception>
    public IScriptedPolicy CreateScriptedPolicy(int task, IEnvironment environment)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(task);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(task, TaskNames.Count);
        ArgumentNullException.ThrowIfNull(environment);
        return _scripted is null
            ? throw new InvalidOperationException($"Suite {Name} has no scripted policies.")
            : _scripted(task, environment);
    }

    /// <summary>A vector of <paramref name="perTask"/> environments of every task, in task order.</summary>
    /// <param name="perTask">Environments per task.</param>
    /// <param name="seed">Seeds every episode.</param>
    /// <param name="maxParallelism">Threads stepping the environments (see <see cref="VectorEnvironment"/>).</param>
    public VectorEnvironment CreateVector(int perTask, ulong seed, int? maxParallelism = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perTask);
        var environments = new List<IEnvironment>();
        try
        {
            for (var task = 0; task < TaskNames.Count; task++)
            {
                for (var copy = 0; copy < perTask; copy++)
                {
                    environments.Add(Create(task));
                }
            }
            return new VectorEnvironment(environments, [.. Enumerable.Range(0, environments.Count).Select(i => i / perTask)], seed, maxParallelism);
        }
        catch
        {
            environments.ForEach(e => e.Dispose());
            throw;
        }
    }

    /// <summary>The names of the suites this library ships.</summary>
    public static IReadOnlyList<string> Names { get; } = ["pointmass", "mt10"];

    /// <summary>The suites this library ships, by name.</summary>
    /// <exception cref="ArgumentException">No suite has that name; the message lists those that do.</exception>
    public static Suite Find(string name) => name.Trim().ToLowerInvariant() switch
    {
        "pointmass" => PointMassSuite.Create(),
        "mt10" => ManipulationSuite.Create(),
        _ => throw new ArgumentException($"Unknown suite '{name}'. Known suites: {string.Join(", ", Names)} (MuJoCo)."),
    };
}
