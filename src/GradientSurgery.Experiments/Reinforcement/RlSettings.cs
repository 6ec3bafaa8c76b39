using System.Text.Json;
using GradientSurgery.Rl;

namespace GradientSurgery.Experiments.Reinforcement;

/// <summary>Everything that determines a multi-task RL run; stored in its checkpoints.</summary>
/// <param name="Suite">The environment suite (pointmass, mt10).</param>
/// <param name="Method">The SAC variant or catalog method (see <see cref="SacMethod"/>).</param>
/// <param name="Seed">Seeds the networks, the environments, the warm-up actions, the replay sampling and the method.</param>
/// <param name="Steps">Vector steps to run (each steps every task's environment once and makes one update); may grow on resume.</param>
/// <param name="WarmupSteps">Vector steps of uniformly random actions before the first update.</param>
/// <param name="BufferPerTask">Replay capacity per task (transitions).</param>
/// <param name="EvaluateEvery">Vector steps between deterministic evaluations (each also writes a checkpoint).</param>
/// <param name="EvaluationEpisodes">Fresh episodes per task in each evaluation, with the mean action.</param>
/// <param name="Sac">The agent's hyperparameters.</param>
/// <param name="Threads">
/// Threads for the tensor operations and the environments; null for all cores. Not part of what determines the
/// results: runs on any thread count give the same numbers (up to libtorch's reduction order on wide layers).
/// </param>
public sealed record RlSettings(
    string Suite, string Method, long Seed, int Steps, int WarmupSteps, int BufferPerTask, int EvaluateEvery, int EvaluationEpisodes, SacSettings Sac, int? Threads = null)
{
    /// <summary>
    /// The defaults of a suite, sized for a 2-core machine (each run well under 45 minutes with one thread).
    /// pointmass: 400-400-400 would be a waste on a 4-entry observation, so 64-64 and 8,000 steps (32,000
    /// transitions), which solve it in about a minute and a half. mt10: Meta-World's MT-SAC settings (batch 128 per
    /// task, γ, τ, learning rate, temperatures) except the network, 256-256 instead of 400-400-400, and the budget,
    /// 40,000 steps (400,000 transitions, 80 episodes per task, where Meta-World trains for millions): one update of
    /// the 400-400-400 networks on 1,280 transitions takes about three times as long here, so in the same 45 minutes
    /// it would see a third of the experience, too little for any but the easiest tasks. The buffer holds the
    /// whole run.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown suite.</exception>
    public static RlSettings Defaults(string suite, string method, long seed) => suite.Trim().ToLowerInvariant() switch
    {
        "pointmass" => new RlSettings("pointmass", method, seed, Steps: 8_000, WarmupSteps: 500, BufferPerTask: 100_000, EvaluateEvery: 500, EvaluationEpisodes: 10,
            new SacSettings([64, 64])),
        "mt10" => new RlSettings("mt10", method, seed, Steps: 40_000, WarmupSteps: 2_500, BufferPerTask: 40_000, EvaluateEvery: 4_000, EvaluationEpisodes: 5,
            SacSettings.MetaWorld with { Hidden = [256, 256] }),
        _ => throw new ArgumentException($"Unknown suite '{suite}'. Known suites: pointmass, mt10 (MuJoCo)."),
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (Steps <= 0)
        {
            throw new ArgumentException($"The number of steps must be positive; got {Steps}.");
        }
        if (WarmupSteps < 1 || WarmupSteps > Steps)
        {
            throw new ArgumentException($"The warm-up must be between 1 step and the run's {Steps} steps; got {WarmupSteps}.");
        }
        if (BufferPerTask < 1)
        {
            throw new ArgumentException($"The replay capacity per task must be positive; got {BufferPerTask}.");
        }
        if (EvaluateEvery < 1 || EvaluationEpisodes < 1)
        {
            throw new ArgumentException($"The evaluation interval and episodes must be positive; got {EvaluateEvery} and {EvaluationEpisodes}.");
        }
        if (Threads is < 1)
        {
            throw new ArgumentException($"The thread count must be positive; got {Threads}.");
        }
        Sac.Validate();
    }

    /// <summary>Whether a checkpoint written under <paramref name="stored"/> may be continued under these settings (only the step count may differ).</summary>
    public bool CanResume(RlSettings stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        return JsonSerializer.Serialize(this with { Steps = 0, Threads = null }) == JsonSerializer.Serialize(stored with { Steps = 0, Threads = null });
    }

    /// <inheritdoc/>
    public override string ToString() => JsonSerializer.Serialize(this);
}
