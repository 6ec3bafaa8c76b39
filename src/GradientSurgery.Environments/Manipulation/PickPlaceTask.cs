namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// pick-place: pick the <see cref="Block"/> up and hold it at a goal in the air, drawn from x ∈ [−0.1, 0.1],
/// y ∈ [0.8, 0.9], z ∈ [0.05, 0.3] (Meta-World's range). Reward 0.2 (1 − tanh(‖hand − block‖ / 0.1)) +
/// 0.8 (1 − tanh(‖block − goal‖ / 0.1)); success: the block's centre within 7 cm of the goal (Meta-World's threshold
/// for this task).
/// </summary>
internal sealed class PickPlaceTask() : BlockTask(new Vec3(-0.1, 0.8, 0.05), new Vec3(0.1, 0.9, 0.3))
{
    public override string Name => "pick-place";

    public override double Reward(TaskState state) =>
        (0.2 * Closeness(state.Hand.DistanceTo(state.Object), 0.1)) + (0.8 * Closeness(state.Object.DistanceTo(state.Goal), 0.1));

    public override bool Success(TaskState state) => state.Object.DistanceTo(state.Goal) < 0.07;

    public override IScriptedPolicy ScriptedPolicy() => new GraspPolicy();
}
