namespace GradientSurgery.Models;

/// <summary>
/// Hyper-parameters of a <see cref="RoutingNetwork"/>'s router, which <see cref="WeightedPolicyLearner"/> trains: one
/// tabular agent per task, one state per routed layer, one action per function block.
/// </summary>
/// <remarks>
/// <para>
/// Rosenbaum, Klinger &amp; Riemer (ICLR 2018, "Routing Networks: Adaptive Selection of Non-linear Functions for
/// Multi-Task Learning") train the router with the Weighted Policy Learner (WPL) of Abdallah &amp; Lesser (2006/2008),
/// with a final reward of +1 for a correct prediction and −1 otherwise and a collaboration reward ρ for choosing a
/// function block that other agents also chose. The paper's text, as far as it could be consulted here, does not fix
/// the router's learning rates; the authors' library (PytorchRouting, its CIFAR-MTL "routed all-fc" example) uses a
/// collaboration reward of 0.1, which is the default here. The other defaults are this project's choices.
/// </para>
/// <para>
/// WPL explores through its stochastic policy alone (there is no ε-greedy step): every block keeps at least
/// <see cref="MinimumProbability"/> (before renormalisation), so that no block is abandoned for good.
/// </para>
/// </remarks>
/// <param name="LearningRate">WPL's policy step size η.</param>
/// <param name="ValueRate">
/// α, the rate of the running average of each (task, layer, block)'s return that WPL compares with the policy's mean
/// (Abdallah &amp; Lesser's value estimate): Q ← (1 − α)·Q + α·return. In (0, 1].
/// </param>
/// <param name="CollaborationReward">
/// ρ: a decision earns ρ times the fraction of the other tasks whose route took the same block at the same layer in
/// the same batch.
/// </param>
/// <param name="MinimumProbability">
/// ε_min: after each update every probability is clipped to [ε_min, 1] and the policy renormalised, as WPL
/// implementations keep the policy a valid distribution that still explores. Must be below 1 / blocks.
/// </param>
public sealed record RouterSettings(
    double LearningRate = 0.01,
    double ValueRate = 0.1,
    double CollaborationReward = 0.1,
    double MinimumProbability = 1e-3)
{
    /// <summary>Throws when a value is out of range.</summary>
    /// <param name="blocks">Function blocks per routed layer (the actions of each state).</param>
    /// <exception cref="ArgumentOutOfRangeException">A value out of range, named.</exception>
    public void Validate(int blocks)
    {
        if (!(LearningRate > 0 && double.IsFinite(LearningRate)))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The router's learning rate must be positive and finite.");
        }
        if (!(ValueRate > 0 && ValueRate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(ValueRate), ValueRate, "The router's value rate must be in (0, 1].");
        }
        if (!(CollaborationReward >= 0 && double.IsFinite(CollaborationReward)))
        {
            throw new ArgumentOutOfRangeException(nameof(CollaborationReward), CollaborationReward, "The collaboration reward must be non-negative and finite.");
        }
        if (!(MinimumProbability >= 0 && MinimumProbability * blocks < 1))
        {
            throw new ArgumentOutOfRangeException(
                nameof(MinimumProbability), MinimumProbability, $"The minimum probability must be in [0, 1/{blocks}) for {blocks} blocks per layer.");
        }
    }
}
