namespace GradientSurgery.Rl;

/// <summary>
/// The hyperparameters of (multi-task) SAC. The defaults are those of Meta-World's MT-SAC baseline: hidden layers
/// 400-400-400, batch 128 per task, Adam with learning rate 3·10⁻⁴, γ 0.99, τ 0.005, initial temperature 1 and target
/// entropy −|A|.
/// </summary>
/// <param name="Hidden">The hidden layers of the actor and of each critic.</param>
/// <param name="BatchPerTask">Transitions per task in one update's batch.</param>
/// <param name="LearningRate">Adam's learning rate for the actor, the critics and the temperatures.</param>
/// <param name="Discount">γ.</param>
/// <param name="Tau">Polyak factor of the target critics.</param>
/// <param name="InitialTemperature">α of every task at the start.</param>
/// <param name="TargetEntropy">H̄; null for −|A|.</param>
/// <param name="TaskGradients">
/// How an aggregator method (<c>pcgrad</c>, <c>mgda</c>, <c>cagrad</c>, …) gets its T task gradients: one backward pass
/// (<see cref="Rl.TaskGradients.OnePass"/>, the default) or one per task (<see cref="Rl.TaskGradients.TaskPasses"/>, the
/// paper's way). The same update up to float rounding; ignored by the other methods. Absent from checkpoints written
/// before it existed, which therefore read as the default, the only behaviour they could have had.
/// </param>
public sealed record SacSettings(
    int[] Hidden,
    int BatchPerTask = 128,
    double LearningRate = 3e-4,
    double Discount = 0.99,
    double Tau = 0.005,
    double InitialTemperature = 1.0,
    double? TargetEntropy = null,
    TaskGradients TaskGradients = TaskGradients.OnePass)
{
    /// <summary>Meta-World's MT-SAC defaults.</summary>
    public static SacSettings MetaWorld { get; } = new([400, 400, 400]);

    /// <summary>Checks every value; the message names the setting.</summary>
    /// <exception cref="ArgumentException">A value out of range.</exception>
    public void Validate()
    {
        if (Hidden is null || Hidden.Length == 0 || Hidden.Any(h => h < 1))
        {
            throw new ArgumentException("The hidden layers must be one or more positive widths.", nameof(Hidden));
        }
        if (BatchPerTask < 1)
        {
            throw new ArgumentException($"The batch per task must be positive; got {BatchPerTask}.", nameof(BatchPerTask));
        }
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
        {
            throw new ArgumentException($"The learning rate must be positive and finite; got {LearningRate}.", nameof(LearningRate));
        }
        if (!(Discount >= 0 && Discount <= 1))
        {
            throw new ArgumentException($"The discount must be in [0, 1]; got {Discount}.", nameof(Discount));
        }
        if (!(Tau > 0 && Tau <= 1))
        {
            throw new ArgumentException($"Tau must be in (0, 1]; got {Tau}.", nameof(Tau));
        }
        if (!(InitialTemperature > 0) || !double.IsFinite(InitialTemperature))
        {
            throw new ArgumentException($"The initial temperature must be positive and finite; got {InitialTemperature}.", nameof(InitialTemperature));
        }
        if (TargetEntropy is { } h && !double.IsFinite(h))
        {
            throw new ArgumentException($"The target entropy must be finite; got {h}.", nameof(TargetEntropy));
        }
        if (!Enum.IsDefined(TaskGradients))
        {
            throw new ArgumentException($"The task gradients must be {string.Join(" or ", Enum.GetNames<TaskGradients>())}; got {(int)TaskGradients}.", nameof(TaskGradients));
        }
    }
}
