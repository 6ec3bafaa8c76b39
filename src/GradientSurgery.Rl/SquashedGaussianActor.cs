using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// SAC's policy (Haarnoja et al. 2018): a network gives the mean μ and log standard deviation of a Gaussian over u, and
/// the action is a = tanh(u), in (−1, 1)ᴬ. Sampling is reparameterised (u = μ + σ ε), so the actor's loss
/// back-propagates through the action; the log-probability carries the change of variables of the tanh (the paper's
/// appendix C): log π(a|s) = Σᵢ [log 𝒩(uᵢ; μᵢ, σᵢ) − log(1 − tanh²(uᵢ))]. Multi-task: each row is acted on for its task,
/// through a <see cref="MultiTaskMlp"/> with 2|A| outputs (μ, then log σ).
/// </summary>
/// <remarks>
/// log(1 − tanh²(u)) is computed as 2 (log 2 − u − softplus(−2u)), which is exact and stays finite where tanh(u)
/// rounds to ±1 (the form 1 − a² + 1e-6 of many implementations biases the log-probability of confident actions).
/// The log standard deviation is clamped to [−20, 2], as in the SAC reference implementation, so that σ neither
/// vanishes nor explodes early in training.
/// </remarks>
public sealed class SquashedGaussianActor : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>The bounds of the log standard deviation.</summary>
    public const double LogStdMin = -20, LogStdMax = 2;

    private readonly MultiTaskMlp _body;

    /// <summary>An actor for <paramref name="taskCount"/> tasks with observations of <paramref name="observationSize"/> entries and actions of <paramref name="actionSize"/>.</summary>
    public SquashedGaussianActor(NetworkSharing sharing, int taskCount, int observationSize, int actionSize, IReadOnlyList<int> hidden) : base(nameof(SquashedGaussianActor))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(actionSize);
        _body = new MultiTaskMlp(sharing, taskCount, observationSize, hidden, 2 * actionSize);
        ActionSize = actionSize;
        RegisterComponents();
    }

    /// <summary>Entries of an action.</summary>
    public int ActionSize { get; }

    /// <summary>The deterministic action tanh(μ) of each row for its task (SAC's evaluation action).</summary>
    public override Tensor forward(Tensor observations, Tensor taskIds)
    {
        var (mean, _) = Distribution(observations, taskIds);
        return mean.tanh();
    }

    /// <summary>A reparameterised sample a = tanh(μ + σ ε) and its log-probability [batch], with ε drawn from <paramref name="generator"/>.</summary>
    /// <param name="observations">[batch, observation size].</param>
    /// <param name="taskIds">[batch], int64.</param>
    /// <param name="generator">The noise's generator (a seeded one makes the run reproducible).</param>
    public (Tensor Action, Tensor LogProbability) Sample(Tensor observations, Tensor taskIds, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(observations);
        var noise = randn([observations.shape[0], ActionSize], dtype: observations.dtype, device: observations.device, generator: generator);
        return Sample(observations, taskIds, noise);
    }

    /// <summary>The reparameterised sample a = tanh(μ + σ ε) for given standard normal noise ε [batch, |A|], and its log-probability.</summary>
    public (Tensor Action, Tensor LogProbability) Sample(Tensor observations, Tensor taskIds, Tensor noise)
    {
        var (mean, logStd) = Distribution(observations, taskIds);
        var u = mean + (logStd.exp() * noise);
        return (u.tanh(), LogProbability(u, mean, logStd));
    }

    /// <summary>log π(tanh(u)) of pre-squash values <paramref name="u"/> under 𝒩(μ, σ), summed over the action's entries.</summary>
    public static Tensor LogProbability(Tensor u, Tensor mean, Tensor logStd)
    {
        ArgumentNullException.ThrowIfNull(u);
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(logStd);
        var gaussian = (-0.5 * ((u - mean) / logStd.exp()).square()) - logStd - (0.5 * Math.Log(2 * Math.PI));
        var squash = 2 * (Math.Log(2) - u - nn.functional.softplus(-2 * u));
        return (gaussian - squash).sum(-1);
    }

    internal (Tensor Mean, Tensor LogStd) Distribution(Tensor observations, Tensor taskIds)
    {
        var output = _body.call(observations, taskIds);
        return (output[.., ..ActionSize], output[.., ActionSize..].clamp(LogStdMin, LogStdMax));
    }
}
