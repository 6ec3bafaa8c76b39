using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// A task on a fixture with a sliding part moved by its knob (a drawer, a window, a door): the fixture is a mocap body placed per
/// episode, the part starts at one end of its joint and the goal is where the knob is at the other. Reward
/// 0.3 (1 − tanh(‖hand − knob‖ / 0.1)) + 0.7 (1 − tanh(‖knob − goal‖ / 0.1)); success: the knob within 3 cm of the goal.
/// </summary>
/// <param name="opens">Whether the part starts closed and must be opened (else it starts open and must be closed).</param>
internal abstract class KnobTask(bool opens) : ManipulationTask
{
    /// <summary>How far the part is moved between closed and open (m, or radians for a hinge).</summary>
    protected virtual double Travel => 0.15;

    /// <summary>Whether the part starts closed and must be opened.</summary>
    protected bool Opens => opens;

    /// <summary>The fixture's mocap body (also the name the MJCF gives it).</summary>
    protected abstract string Fixture { get; }

    /// <summary>The sliding part's joint.</summary>
    protected abstract string Joint { get; }

    /// <summary>The knob's body, which the observation tracks.</summary>
    protected abstract string Knob { get; }

    /// <summary>The range the fixture's position is drawn from.</summary>
    protected abstract (Vec3 Low, Vec3 High) FixtureRange { get; }

    /// <summary>Where the knob is with the fixture at <paramref name="fixture"/> and the part moved <paramref name="travel"/> along its joint.</summary>
    protected abstract Vec3 KnobAt(Vec3 fixture, double travel);

    public override IReadOnlyList<string> TrackedBodies => [Knob];

    public sealed override Vec3 Place(SplitMix64 random, MjModel model, MjData data)
    {
        var fixture = Vec3.Uniform(random, FixtureRange.Low, FixtureRange.High);
        PlaceMocap(model, data, Fixture, fixture);
        data.Qpos[model.JointQposAddress[model.RequireId(MjObjectType.Joint, Joint)]] = opens ? 0 : Travel;
        return KnobAt(fixture, opens ? Travel : 0);
    }

    public sealed override double Reward(TaskState state) =>
        (0.3 * Closeness(state.Hand.DistanceTo(state.Object), 0.1)) + (0.7 * Closeness(state.Object.DistanceTo(state.Goal), 0.1));

    public sealed override bool Success(TaskState state) => state.Object.DistanceTo(state.Goal) < 0.03;

    public override IScriptedPolicy ScriptedPolicy() => new GraspPolicy();
}
