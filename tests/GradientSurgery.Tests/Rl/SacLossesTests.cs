using GradientSurgery.Rl;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Rl;

/// <summary>SAC's per-sample losses against hand-worked values, and Polyak averaging.</summary>
public sealed class SacLossesTests
{
    [Fact]
    public void TheCriticTargetBootstrapsTheSmallerSoftValueExceptAtTerminalStates()
    {
        using var scope = NewDisposeScope();
        // Sample 0: r 1, not terminal, Q′ (2, 3), log π −0.5, α 0.2: 1 + 0.9 (2 + 0.1) = 2.89.
        // Sample 1: r −1, terminal: −1 whatever follows.
        var targets = SacLosses.CriticTargets(
            tensor(new[] { 1.0, -1.0 }), tensor(new[] { 0.0, 1.0 }), tensor(new[] { 2.0, 5.0 }), tensor(new[] { 3.0, 4.0 }),
            tensor(new[] { -0.5, 0.3 }), tensor(new[] { 0.2, 0.7 }), discount: 0.9);
        Assert.Equal([2.89, -1.0], targets.data<double>().ToArray().Select(v => Math.Round(v, 12)));
        Assert.False(targets.requires_grad);
        Assert.Throws<ArgumentOutOfRangeException>(() => SacLosses.CriticTargets(targets, targets, targets, targets, targets, targets, 1.5));
    }

    [Fact]
    public void TheCriticActorAndTemperatureLossesMatchHandWorkedValues()
    {
        using var scope = NewDisposeScope();
        var critic = SacLosses.Critic(tensor(new[] { 1.0, 0.0 }), tensor(new[] { 3.0, 0.0 }), tensor(new[] { 2.0, 1.0 }));
        Assert.Equal([1.0, 1.0], critic.data<double>().ToArray());   // ½·1 + ½·1 and ½·1 + ½·1
        var logTemperature = tensor(new[] { Math.Log(0.5) }, requires_grad: true);
        var temperature = logTemperature.exp();
        var logProbability = tensor(new[] { -1.5 }, requires_grad: true);
        var actor = SacLosses.Actor(logProbability, tensor(new[] { 4.0 }), tensor(new[] { 2.5 }), temperature);
        Assert.Equal(0.5 * -1.5 - 2.5, actor.item<double>(), 12);
        actor.sum().backward();
        Assert.Null(logTemperature.grad);   // the actor's loss does not train α
        Assert.Equal(0.5, logProbability.grad!.item<double>(), 12);
        // −log α (log π + H̄) with H̄ = −2 and log π = −1.5: the entropy estimate 1.5 is above the target −2, so α must
        // fall: the gradient in log α is −(−1.5 − 2) = 3.5 > 0, and a descent step lowers it.
        var temperatureLoss = SacLosses.Temperature(logTemperature, logProbability, targetEntropy: -2);
        temperatureLoss.sum().backward();
        Assert.Equal(3.5, logTemperature.grad!.item<double>(), 12);
        Assert.Equal(0.5, logProbability.grad!.item<double>(), 12);   // unchanged: log π is detached in α's loss
    }

    [Fact]
    public void PolyakMovesTheTargetATauFractionTowardTheOnlineNetwork()
    {
        using var online = nn.Linear(3, 2);
        using var target = nn.Linear(3, 2);
        var before = target.parameters().Select(p => p.detach().clone()).ToArray();
        SacLosses.Polyak(online.parameters(), target.parameters(), tau: 0.25);
        foreach (var (after, (old, source)) in target.parameters().Zip(before.Zip(online.parameters())))
        {
            Assert.True(after.allclose((0.25 * source) + (0.75 * old), rtol: 0, atol: 1e-7));
        }
        Assert.Throws<ArgumentException>(() => SacLosses.Polyak(online.parameters(), nn.Linear(3, 3).parameters(), 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => SacLosses.Polyak(online.parameters(), target.parameters(), 1.5));
    }
}
