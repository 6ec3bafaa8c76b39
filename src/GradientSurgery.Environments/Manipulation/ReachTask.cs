using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// reach: move the hand to a goal in the air above the far half of the table, drawn per episode from
/// x ∈ [−0.1, 0.1], y ∈ [0.8, 0.9], z ∈ [0.05, 0.3] (Meta-World's ranges). Reward 1 − tanh(‖hand − goal‖ / 0.2);
/// success: ‖hand − goal‖ &lt; 5 cm.
/// </summary>
internal sealed class ReachTask : ManipulationTask
{
    private static readonly Vec3 GoalLow = new(-0.1, 0.8, 0.05);
    private static readonly Vec3 GoalHigh = new(0.1, 0.9, 0.3);

    public override string Name => "reach";

    public override string Bodies => "";

    public override Vec3 Place(SplitMix64 random, MjModel model, MjData data) => Vec3.Uniform(random, GoalLow, GoalHigh);

    public override double Reward(TaskState state) => Closeness(state.Hand.DistanceTo(state.Goal), 0.2);

    public override bool Success(TaskState state) => state.Hand.DistanceTo(state.Goal) < 0.05;

    public override IScriptedPolicy ScriptedPolicy() => new Scripted();

    /// <summary>Straight to the goal, gripper open.</summary>
    private sealed class Scripted : IScriptedPolicy
    {
        public void Act(ReadOnlySpan<float> observation, Span<float> action)
        {
            var e = ManipulationEnvironment.GoalIndex;
            HandControl.MoveToward(observation, (observation[e], observation[e + 1], observation[e + 2]), 1f, action);
            action[3] = -1;
        }
    }
}
