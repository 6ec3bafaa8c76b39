using GradientSurgery.Rl;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Rl;

/// <summary>SAC's networks: the tanh-squashed Gaussian's log-probability, sampling, and the twin critics.</summary>
public sealed class SacNetworkTests
{
    [Theory]
    [InlineData(0.0, 0.0, 0.0)]
    [InlineData(0.7, 0.3, -0.5)]
    [InlineData(-2.5, 0.1, 0.4)]
    [InlineData(4.0, -1.0, -1.2)]
    public void TheLogProbabilityIsTheGaussiansThroughTheTanhsChangeOfVariables(double u, double mean, double logStd)
    {
        // Independent value: log N(u; μ, σ) − log(1 − tanh²(u)), straight from the definitions in double precision.
        var sigma = Math.Exp(logStd);
        var expected = (-0.5 * Math.Pow((u - mean) / sigma, 2)) - Math.Log(sigma * Math.Sqrt(2 * Math.PI)) - Math.Log(1 - Math.Pow(Math.Tanh(u), 2));
        using var scope = NewDisposeScope();
        var actual = SquashedGaussianActor.LogProbability(tensor(new[,] { { u } }), tensor(new[,] { { mean } }), tensor(new[,] { { logStd } })).item<double>();
        Assert.Equal(expected, actual, 1e-9);
    }

    [Fact]
    public void TheSquashedDensityIntegratesToOneOverTheActionsAndStaysFiniteWhereTanhSaturates()
    {
        using var scope = NewDisposeScope();
        // ∫ π(a) da over a ∈ (−1, 1) by the midpoint rule in a (not in u): only a correct Jacobian term makes it 1.
        const int points = 200_000;
        var a = (arange(points, dtype: float64) + 0.5) * (2.0 / points) - 1.0;
        var u = a.atanh();
        var density = SquashedGaussianActor.LogProbability(u.unsqueeze(1), full([points, 1], 0.4, dtype: float64), full([points, 1], -0.3, dtype: float64)).exp();
        Assert.Equal(1.0, (density.sum() * (2.0 / points)).item<double>(), 3);
        var saturated = SquashedGaussianActor.LogProbability(tensor(new[,] { { 30.0 } }), tensor(new[,] { { 0.0 } }), tensor(new[,] { { 0.0 } })).item<double>();
        Assert.True(double.IsFinite(saturated));
        // log(1 − tanh²(30)) = 2 (log 2 − 30 − log(1 + e⁻⁶⁰)) ≈ 2 log 2 − 60.
        Assert.Equal((-0.5 * 900) - (0.5 * Math.Log(2 * Math.PI)) - ((2 * Math.Log(2)) - 60), saturated, 9);
    }

    [Fact]
    public void SamplesAreBoundedReproducibleAndCarryTheGradientToTheActor()
    {
        manual_seed(3);
        using var actor = new SquashedGaussianActor(NetworkSharing.OneHot, taskCount: 3, observationSize: 5, actionSize: 2, hidden: [16, 16]);
        var observations = randn(64, 5);
        var ids = arange(64) % 3;
        var (action, logProbability) = actor.Sample(observations, ids, new Generator(11));
        Assert.Equal([64L, 2L], action.shape);
        Assert.Equal([64L], logProbability.shape);
        Assert.True((action.abs() < 1).all().item<bool>());
        Assert.True(logProbability.isfinite().all().item<bool>());
        var (again, _) = actor.Sample(observations, ids, new Generator(11));
        Assert.True((action == again).all().item<bool>());
        Assert.True(actor.forward(observations, ids).abs().max().item<float>() < 1);
        (action.sum() - logProbability.mean()).backward();
        Assert.All(actor.parameters(), p => Assert.True(p.grad is { } g && g.abs().sum().item<float>() > 0, "every actor parameter gets a gradient"));
    }

    [Fact]
    public void TheLogStandardDeviationIsClampedToItsBounds()
    {
        manual_seed(4);
        using var actor = new SquashedGaussianActor(NetworkSharing.OneHot, 1, 3, 1, [8]);
        var ids = zeros(16, dtype: ScalarType.Int64);
        // The output layer's second half is log σ: zero weights and a huge bias push it past either bound.
        var output = actor.modules().OfType<TorchSharp.Modules.Linear>().Last();
        using (no_grad())
        {
            output.weight!.fill_(0);
            output.bias![1].fill_(100);
        }
        var (_, logStd) = actor.Distribution(zeros(16, 3), ids);
        Assert.True((logStd == SquashedGaussianActor.LogStdMax).all().item<bool>());
        using (no_grad())
        {
            output.bias![1].fill_(-100);
        }
        (_, logStd) = actor.Distribution(zeros(16, 3), ids);
        Assert.True((logStd == SquashedGaussianActor.LogStdMin).all().item<bool>());
        Assert.True(actor.Sample(zeros(16, 3), ids, new Generator(1)).LogProbability.isfinite().all().item<bool>());
    }

    [Fact]
    public void TheTwinCriticsAreTwoIndependentFunctionsOfObservationAndAction()
    {
        manual_seed(5);
        using var critic = new TwinCritic(NetworkSharing.Independent, taskCount: 1, observationSize: 4, actionSize: 2, hidden: [32, 32]);
        var (q1, q2) = critic.forward(randn(10, 4), randn(10, 2).tanh(), zeros(10, dtype: ScalarType.Int64));
        Assert.Equal([10L], q1.shape);
        Assert.Equal([10L], q2.shape);
        Assert.False(q1.allclose(q2));
        Assert.Equal(2 * ((6 * 32) + 32 + (32 * 32) + 32 + 32 + 1), critic.parameters().Sum(p => p.numel()));
    }
}
