namespace GradientSurgery.Models;

/// <summary>
/// The Weighted Policy Learner (Abdallah &amp; Lesser, "Learning the Task Allocation Game", AAMAS 2006; "A Multiagent
/// Reinforcement Learning Algorithm with Non-linear Dynamics", JAIR 2008) on the tabular router of a
/// <see cref="RoutingNetwork"/>, as Rosenbaum, Klinger &amp; Riemer (ICLR 2018) train it: one agent per task, whose state
/// is the routed layer and whose action is the function block.
/// </summary>
/// <remarks>
/// <para>
/// For one agent and one state with policy π and value estimates Q (one per action), after taking action a with
/// return G: Q(a) ← (1 − α)·Q(a) + α·G; then for every action b, with the policy's mean value V = Σ π(c)·Q(c), the
/// gradient estimate Δ(b) = Q(b) − V is weighted by π(b) when it is negative and by 1 − π(b) otherwise, and
/// π(b) ← π(b) + η·weighted Δ(b). The weights slow the policy down as it nears the simplex's boundary (a probability
/// moving to 0 moves by π, one moving to 1 by 1 − π): WPL's non-linear dynamics, which let concurrent learners settle.
/// </para>
/// <para>
/// The policy is then made a distribution again as WPL implementations do: every probability clipped to
/// [ε_min, 1], then all divided by their sum (so a clipped probability can end up slightly below ε_min, never at 0).
/// </para>
/// <para>
/// Rewards (discount 1, as in the paper's multi-task experiments): the decision at layer l earns the collaboration
/// reward ρ·(fraction of the other tasks whose route took the same block at layer l), and the last decision also the
/// task's final reward; the return of the decision at layer l is the sum of its reward and all later ones.
/// </para>
/// </remarks>
public static class WeightedPolicyLearner
{
    /// <summary>Updates every rewarded task's policy and values in place from one batch's routes.</summary>
    /// <param name="policy">T×L×B probabilities, row-major (task, layer, block).</param>
    /// <param name="values">T×L×B value estimates Q, row-major like <paramref name="policy"/>.</param>
    /// <param name="routes">routes[t, l]: the block task t's route took at layer l.</param>
    /// <param name="finalRewards">
    /// Task t's final reward, or null when the batch has no labelled example for it: that task's agent is not updated
    /// (its route still counts for the other tasks' collaboration rewards, since their inputs went through it).
    /// </param>
    /// <param name="settings">η, α, ρ and ε_min.</param>
    /// <exception cref="ArgumentException">Sizes that do not agree, or a block index out of range.</exception>
    public static void Update(double[] policy, double[] values, int[,] routes, IReadOnlyList<double?> finalRewards, RouterSettings settings)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(routes);
        ArgumentNullException.ThrowIfNull(finalRewards);
        ArgumentNullException.ThrowIfNull(settings);
        var (tasks, layers) = (routes.GetLength(0), routes.GetLength(1));
        if (tasks == 0 || layers == 0 || policy.Length % (tasks * layers) != 0)
        {
            throw new ArgumentException($"A policy of {policy.Length} probabilities does not split into {tasks} tasks × {layers} layers.", nameof(policy));
        }
        var blocks = policy.Length / (tasks * layers);
        if (values.Length != policy.Length)
        {
            throw new ArgumentException($"{values.Length} values for {policy.Length} probabilities.", nameof(values));
        }
        if (finalRewards.Count != tasks)
        {
            throw new ArgumentException($"{finalRewards.Count} final rewards for {tasks} tasks.", nameof(finalRewards));
        }
        foreach (var block in routes)
        {
            if (block < 0 || block >= blocks)
            {
                throw new ArgumentException($"Route block {block} is out of range for {blocks} blocks per layer.", nameof(routes));
            }
        }
        settings.Validate(blocks);

        var returns = new double[layers];
        for (var t = 0; t < tasks; t++)
        {
            if (finalRewards[t] is not { } final)
            {
                continue;
            }
            // Returns from the last decision back to the first: each adds its own collaboration reward.
            var following = final;
            for (var l = layers - 1; l >= 0; l--)
            {
                following += Collaboration(routes, t, l, settings.CollaborationReward);
                returns[l] = following;
            }
            for (var l = 0; l < layers; l++)
            {
                UpdateState(policy.AsSpan((t * layers + l) * blocks, blocks), values.AsSpan((t * layers + l) * blocks, blocks), routes[t, l], returns[l], settings);
            }
        }
    }

    /// <summary>ρ times the fraction of the other tasks whose route took task <paramref name="task"/>'s block at <paramref name="layer"/>.</summary>
    private static double Collaboration(int[,] routes, int task, int layer, double rho)
    {
        var tasks = routes.GetLength(0);
        if (tasks < 2 || rho == 0)
        {
            return 0;
        }
        var same = 0;
        for (var u = 0; u < tasks; u++)
        {
            if (u != task && routes[u, layer] == routes[task, layer])
            {
                same++;
            }
        }
        return rho * same / (tasks - 1);
    }

    /// <summary>One WPL step of one agent in one state (see the class remarks).</summary>
    private static void UpdateState(Span<double> pi, Span<double> q, int action, double taken, RouterSettings settings)
    {
        q[action] = (1 - settings.ValueRate) * q[action] + settings.ValueRate * taken;
        double mean = 0;
        for (var b = 0; b < pi.Length; b++)
        {
            mean += pi[b] * q[b];
        }
        // Every Δ reads the policy before the step: compute them all, then apply.
        Span<double> step = stackalloc double[pi.Length];
        for (var b = 0; b < pi.Length; b++)
        {
            var gradient = q[b] - mean;
            step[b] = settings.LearningRate * gradient * (gradient < 0 ? pi[b] : 1 - pi[b]);
        }
        double sum = 0;
        for (var b = 0; b < pi.Length; b++)
        {
            pi[b] = Math.Clamp(pi[b] + step[b], settings.MinimumProbability, 1);
            sum += pi[b];
        }
        for (var b = 0; b < pi.Length; b++)
        {
            pi[b] /= sum;
        }
    }
}
