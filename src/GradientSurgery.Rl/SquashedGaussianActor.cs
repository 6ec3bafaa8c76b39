using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// SAC's policy (Haarnoja et al. 2018): an MLP gives the mean μ and log standard deviation of a Gaussian over u, and the
/// action is a = tanh(u), in (−1, 1)ᴬ. Sampling is reparameterised (u = μ + σ ε), so the actor's loss back-propagates
/// through the action; the log-probability carries the change of variables of the tanh (the paper's appendix C):
/// log π(a|s) = Σᵢ [log 𝒩(uᵢ; μᵢ, σᵢ) − log(1 − tanh²(uᵢ))].
/// </summary>
/// <remarks>
/// log(1 − tanh²(u)) is computed as 2 (log 2 − u − softplus(−2u)), which is exact and stays finite where tanh(u)
/// rounds to ±1 (the form 1 − a² + 1e-6 of many implementations biases the log-probability of confident actions).
/// The log standard deviation is clamped to [−20, 2], as in the SAC reference implementation, so that σ neither
/// vanishes nor explodes early in training.
/// </remarks>
public sealed class SquashedGaussianActor : nn.Module<Tensor, Tensor>
{
    /// <summary>The bounds of the log standard deviation.</summary>
    public const double LogStdMin = -20, LogStdMax = 2;

    private readonly Sequential _trunk;
    private readonly Linear _mean;
    private readonly Linear _logStd;

    /// <summary>An actor for observations of <paramref name="observationSize"/> entries and actions of <paramref name="actionSize"/>.</summary>
    public SquashedGaussianActor(int observationSize, int actionSize, IReadOnlyList<int> hidden) : base(nameof(SquashedGaussianActor))
    {
        ArgumentNullException.ThrowIfNull(hidden);
        if (hidden.Count == 0)
        {
            throw new ArgumentException("The actor needs at least one hidden layer.", nameof(hidden));
        }
        _trunk = Mlp.Create(observationSize, hidden.SkipLast(1).ToArray(), hidden[^1]);
        _mean = nn.Linear(hidden[^1], actionSize);
        _logStd = nn.Linear(hidden[^1], actionSize);
        ActionSize = actionSize;
        RegisterComponents();
    }

    /// <summary>Entries of an action.</summary>
    public int ActionSize { get; }

    /// <summary>The deterministic action tanh(μ) (SAC's evaluation action).</summary>
    public override Tensor forward(Tensor observations)
    {
        var (mean, _) = Distribution(observations);
        return mean.tanh();
    }

    /// <summary>A reparameterised sample a = tanh(μ + σ ε) and its log-probability [batch].</summary>
    /// <param name="observations">[batch, observation size].</param>
    /// <param name="generator">The noise's generator (a seeded one makes the run reproducible).</param>
    public (Tensor Action, Tensor LogProbability) Sample(Tensor observations, Generator? generator = null)
    {
        var (mean, logStd) = Distribution(observations);
        var noise = randn(mean.shape, dtype: mean.dtype, device: mean.device, generator: generator);
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

    internal (Tensor Mean, Tensor LogStd) Distribution(Tensor observations)
    {
        var features = nn.functional.relu(_trunk.call(observations));
        return (_mean.call(features), _logStd.call(features).clamp(LogStdMin, LogStdMax));
    }
}
