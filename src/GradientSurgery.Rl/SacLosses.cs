using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// The per-sample losses of SAC with automatic entropy tuning (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms
/// and Applications"), with one temperature per task as in Meta-World's MT-SAC. Per sample, so that a multi-task
/// method can form each task's loss as the mean over its own samples (see SamplePartitionedJacobian); a plain
/// single-objective update takes their mean.
/// </summary>
public static class SacLosses
{
    /// <summary>
    /// The soft Bellman target y = r + γ (1 − d) (min(Q′₁, Q′₂)(s′, a′) − α log π(a′|s′)), with a′ ~ π(·|s′) and the
    /// target critics' values; computed without gradient.
    /// </summary>
    /// <param name="rewards">[batch].</param>
    /// <param name="terminated">[batch]: 1 for a terminal transition (no bootstrap); a time-limit truncation is 0.</param>
    /// <param name="nextQ1">Target critic 1 at (s′, a′) [batch].</param>
    /// <param name="nextQ2">Target critic 2 at (s′, a′) [batch].</param>
    /// <param name="nextLogProbability">log π(a′|s′) [batch].</param>
    /// <param name="temperature">α of each sample's task [batch].</param>
    /// <param name="discount">γ in [0, 1].</param>
    public static Tensor CriticTargets(Tensor rewards, Tensor terminated, Tensor nextQ1, Tensor nextQ2, Tensor nextLogProbability, Tensor temperature, double discount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(discount, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(discount, 1);
        using var _ = no_grad();
        var softValue = minimum(nextQ1, nextQ2) - (temperature * nextLogProbability);
        return (rewards + (discount * (1 - terminated) * softValue)).detach();
    }

    /// <summary>Each sample's critic loss ½ (Q₁ − y)² + ½ (Q₂ − y)² [batch] (both critics regress on the same target).</summary>
    public static Tensor Critic(Tensor q1, Tensor q2, Tensor targets) =>
        (0.5 * (q1 - targets).square()) + (0.5 * (q2 - targets).square());

    /// <summary>Each sample's actor loss α log π(a|s) − min(Q₁, Q₂)(s, a) [batch], a ~ π(·|s) reparameterised; α is not trained by it.</summary>
    public static Tensor Actor(Tensor logProbability, Tensor q1, Tensor q2, Tensor temperature) =>
        (temperature.detach() * logProbability) - minimum(q1, q2);

    /// <summary>
    /// Each sample's temperature loss −log α (log π(a|s) + H̄) [batch], with H̄ the target entropy (−|A| by default): its
    /// gradient raises α when the policy's entropy falls below the target and lowers it otherwise.
    /// </summary>
    public static Tensor Temperature(Tensor logTemperature, Tensor logProbability, double targetEntropy) =>
        -logTemperature * (logProbability.detach() + targetEntropy);

    /// <summary>Polyak averaging of the target network: θ′ ← τ θ + (1 − τ) θ′, in place, without gradient.</summary>
    /// <exception cref="ArgumentException">The two networks' parameters differ in number or shape.</exception>
    public static void Polyak(IEnumerable<TorchSharp.Modules.Parameter> online, IEnumerable<TorchSharp.Modules.Parameter> target, double tau)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tau, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tau, 1);
        var (sources, destinations) = (online.ToArray(), target.ToArray());
        if (sources.Length != destinations.Length)
        {
            throw new ArgumentException($"The online network has {sources.Length} parameters, the target {destinations.Length}.", nameof(target));
        }
        using var _ = no_grad();
        for (var k = 0; k < sources.Length; k++)
        {
            if (!sources[k].shape.SequenceEqual(destinations[k].shape))
            {
                throw new ArgumentException($"Parameter {k}: online shape [{string.Join(", ", sources[k].shape)}], target [{string.Join(", ", destinations[k].shape)}].", nameof(target));
            }
            destinations[k].mul_(1 - tau).add_(sources[k], alpha: tau);
        }
    }
}
