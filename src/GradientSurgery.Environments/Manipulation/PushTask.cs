namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// push: move the <see cref="Block"/> along the table to a goal on it, drawn from x ∈ [−0.1, 0.1], y ∈ [0.8, 0.9]
/// (Meta-World's range). Reward 0.3 (1 − tanh(‖hand − block‖ / 0.1)) + 0.7 (1 − tanh(‖block − goal‖_xy / 0.1));
/// success: the block's centre within 5 cm of the goal in the table's plane.
/// </summary>
internal sealed class PushTask() : BlockTask(new Vec3(-0.1, 0.8, Block.HalfSide), new Vec3(0.1, 0.9, Block.HalfSide))
{
    public override string Name => "push";

    public override double Reward(TaskState state) =>
        (0.3 * Closeness(state.Hand.DistanceTo(state.Object), 0.1)) + (0.7 * Closeness(state.Object.PlanarDistanceTo(state.Goal), 0.1));

    public override bool Success(TaskState state) => state.Object.PlanarDistanceTo(state.Goal) < 0.05;

    public override IScriptedPolicy ScriptedPolicy() => new GraspPolicy();
}
