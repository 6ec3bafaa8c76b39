using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Environments.Manipulation;

/// <summary>A position in metres.</summary>
public readonly record struct Vec3(double X, double Y, double Z)
{
    /// <summary>The position as a tuple (x, y, z).</summary>
    public (double X, double Y, double Z) Tuple => (X, Y, Z);

    /// <summary>Euclidean distance.</summary>
    public double DistanceTo(Vec3 other) => Math.Sqrt(((X - other.X) * (X - other.X)) + ((Y - other.Y) * (Y - other.Y)) + ((Z - other.Z) * (Z - other.Z)));

    /// <summary>Distance in the table's plane (x, y).</summary>
    public double PlanarDistanceTo(Vec3 other) => Math.Sqrt(((X - other.X) * (X - other.X)) + ((Y - other.Y) * (Y - other.Y)));

    /// <summary>A point drawn uniformly from the box [low, high].</summary>
    public static Vec3 Uniform(SplitMix64 random, Vec3 low, Vec3 high) => new(
        low.X + ((high.X - low.X) * random.NextDouble()),
        low.Y + ((high.Y - low.Y) * random.NextDouble()),
        low.Z + ((high.Z - low.Z) * random.NextDouble()));
}

/// <summary>What a task's reward and success read after a control step.</summary>
/// <param name="Hand">The hand's position (the fingers' pads span from it to 5 cm above).</param>
/// <param name="GripperOpening">0 closed … 1 fully open.</param>
/// <param name="Object">The main object's position (the hand's own position for a task without one).</param>
/// <param name="Goal">The episode's goal.</param>
/// <param name="Data">The simulation, for tasks that read joints (doors, drawers).</param>
internal readonly record struct TaskState(Vec3 Hand, double GripperOpening, Vec3 Object, Vec3 Goal, MjData Data);

/// <summary>
/// One manipulation task: its bodies, how an episode places them and the goal, its dense reward in [0, 1], its success
/// criterion, and its scripted policy.
/// </summary>
internal abstract class ManipulationTask
{
    /// <summary>The task's name (e.g. <c>reach</c>).</summary>
    public abstract string Name { get; }

    /// <summary>MJCF elements added inside the scene's worldbody.</summary>
    public abstract string Bodies { get; }

    /// <summary>MJCF elements added after the scene's actuators (e.g. contact exclusions); none by default.</summary>
    public virtual string Extra => "";

    /// <summary>The bodies whose pose the observation carries (at most two), in order.</summary>
    public virtual IReadOnlyList<string> TrackedBodies => [];

    /// <summary>Where the hand starts every episode.</summary>
    public virtual Vec3 HandStart => new(0, 0.6, 0.2);

    /// <summary>After the simulation's reset: places the objects for a new episode (writing qpos) and returns the goal.</summary>
    public abstract Vec3 Place(SplitMix64 random, MjModel model, MjData data);

    /// <summary>The dense reward of a state, in [0, 1].</summary>
    public abstract double Reward(TaskState state);

    /// <summary>The task's success criterion.</summary>
    public abstract bool Success(TaskState state);

    /// <summary>The scripted policy, reading the observation (see <see cref="ManipulationEnvironment"/> for its layout).</summary>
    public abstract IScriptedPolicy ScriptedPolicy();

    /// <summary>1 − tanh(d / scale): 1 at d = 0, falling smoothly, 0.24 at d = scale.</summary>
    protected static double Closeness(double distance, double scale) => 1 - Math.Tanh(distance / scale);

    /// <summary>MJCF (for <see cref="Extra"/>) that turns off contacts between two bodies, e.g. a fixture and the part that moves inside it.</summary>
    protected static string ExcludeContacts(string body1, string body2) => $"""
          <contact>
            <exclude body1="{body1}" body2="{body2}"/>
          </contact>
        """;

    /// <summary>Moves a mocap body (a fixture such as a cabinet) to <paramref name="position"/>.</summary>
    protected static void PlaceMocap(MjModel model, MjData data, string body, Vec3 position)
    {
        var mocap = model.BodyMocapId[model.RequireId(MjObjectType.Body, body)];
        var positions = data.MocapPos;
        (positions[3 * mocap], positions[(3 * mocap) + 1], positions[(3 * mocap) + 2]) = (position.X, position.Y, position.Z);
    }

    /// <summary>Writes a free joint's position (and an upright orientation) into qpos.</summary>
    internal static void PlaceFreeBody(MjModel model, MjData data, string joint, Vec3 position)
    {
        var address = model.JointQposAddress[model.RequireId(MjObjectType.Joint, joint)];
        var qpos = data.Qpos;
        (qpos[address], qpos[address + 1], qpos[address + 2]) = (position.X, position.Y, position.Z);
        (qpos[address + 3], qpos[address + 4], qpos[address + 5], qpos[address + 6]) = (1, 0, 0, 0);
    }
}
