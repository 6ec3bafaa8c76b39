using GradientSurgery.Aggregation;
using GradientSurgery.Experiments.Toy;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Experiments;

public sealed class ToyTests
{
    public static IEnumerable<object[]> Points()
    {
        foreach (var landscape in new[] { "paper", "cagrad" })
        {
            foreach (var (x, y) in new[] { (0.5, -3.0), (-8.5, 7.5), (1.7, -1.4), (9.0, 9.0), (10.0, -8.0), (-2.0, 6.0), (0.3, 0.2), (0.0, 0.0) })
            {
                yield return [landscape, x, y];
            }
        }
    }

    [Theory]
    [MemberData(nameof(Points))]
    public void ClosedFormGradientsMatchAutograd(string name, double x, double y)
    {
        var landscape = ToyLandscapes.Find(name);
        var jacobian = new double[2, 2];
        landscape.Gradients(x, y, jacobian);

        using var scope = NewDisposeScope();
        var theta = tensor(new[] { x, y }, requires_grad: true);
        var (l1, l2) = name == "paper" ? PaperLosses(theta) : CAGradLosses(theta);
        Assert.Equal(landscape.Losses(x, y).L1, l1.item<double>(), 12);
        Assert.Equal(landscape.Losses(x, y).L2, l2.item<double>(), 12);
        var g1 = autograd.grad([l1], [theta], retain_graph: true)[0].data<double>().ToArray();
        var g2 = autograd.grad([l2], [theta])[0].data<double>().ToArray();
        for (var k = 0; k < 2; k++)
        {
            Assert.True(Math.Abs(g1[k] - jacobian[0, k]) <= 1e-10 * (1 + Math.Abs(g1[k])), $"∇L1[{k}]: autograd {g1[k]}, closed form {jacobian[0, k]}");
            Assert.True(Math.Abs(g2[k] - jacobian[1, k]) <= 1e-10 * (1 + Math.Abs(g2[k])), $"∇L2[{k}]: autograd {g2[k]}, closed form {jacobian[1, k]}");
        }
    }

    [Fact]
    public void ToyAdamMatchesTorchAdamStepForStep()
    {
        using var scope = NewDisposeScope();
        var parameter = new TorchSharp.Modules.Parameter(tensor(new[] { 0.5, -3.0 }));
        var adam = optim.Adam([parameter], lr: 0.001);
        var ours = new ToyAdam(0.001);
        var theta = new[] { 0.5, -3.0 };
        var random = new Random(3);
        for (var step = 0; step < 50; step++)
        {
            var gradient = new[] { random.NextDouble() * 20 - 10, random.NextDouble() * 2 - 1 };
            parameter.grad = tensor(gradient);
            adam.step();
            ours.Step(theta, gradient);
        }
        var expected = parameter.data<double>().ToArray();
        Assert.Equal(expected[0], theta[0], 14);
        Assert.Equal(expected[1], theta[1], 14);
    }

    [Fact]
    public void AdamStallsInTheValleyWhilePCGradEscapes()
    {
        // 200,000 steps already separate the two (the full 500,000-step numbers are in the README).
        var runs = ToyExperiment.Run(new PaperLandscape(), ["sum", "pcgrad"], [(0.5, -3.0)], 200_000, 0.001, seed: 0);
        var adam = runs.Single(r => r.Method == "sum");
        var pcgrad = runs.Single(r => r.Method == "pcgrad");

        Assert.InRange(adam.FinalLosses.L2, 30, 36);
        Assert.InRange(adam.Final.X, 1.6, 2.0);
        Assert.True(pcgrad.FinalLosses.L2 < 0, $"PCGrad L2 = {pcgrad.FinalLosses.L2}");
        Assert.True(pcgrad.Final.Y > 0.5, $"PCGrad θ2 = {pcgrad.Final.Y}");
        Assert.Equal((0.5, -3.0), (pcgrad.Trajectory[0].X, pcgrad.Trajectory[0].Y));
        Assert.Equal(200_000, pcgrad.Trajectory[^1].Step);
    }

    [Fact]
    public void NonGramianAggregatorsGoThroughTheTensorPath()
    {
        var trajectory = ToyOptimizer.Run(new PaperLandscape(), new TensorOnlySum(), (0.5, -3.0), 2000, 0.001);
        var reference = ToyOptimizer.Run(new PaperLandscape(), new Sum(), (0.5, -3.0), 2000, 0.001);
        Assert.Equal(reference[^1].X, trajectory[^1].X, 12);
        Assert.Equal(reference[^1].Y, trajectory[^1].Y, 12);
    }

    private sealed class TensorOnlySum : IAggregator
    {
        public Tensor Aggregate(Tensor jacobian) => jacobian.sum(dim: 0);
    }

    private static (Tensor, Tensor) PaperLosses(Tensor theta)
    {
        var floor = tensor(5e-6);
        var u1 = 0.5 * theta[0] + tanh(theta[1]);
        var u2 = 0.5 * theta[0] - tanh(theta[1]) + 2;
        return (20 * maximum(u1.abs(), floor).log(), 25 * maximum(u2.abs(), floor).log());
    }

    private static (Tensor, Tensor) CAGradLosses(Tensor theta)
    {
        var floor = tensor(5e-6);
        var (x1, x2) = (theta[0], theta[1]);
        var f1 = maximum((0.5 * (-x1 - 7) - tanh(-x2)).abs(), floor).log() + 6;
        var f2 = maximum((0.5 * (-x1 + 3) + tanh(-x2) + 2).abs(), floor).log() + 6;
        // clamp, as in the reference code: its gradient passes at the boundary (x2 = 0).
        var c1 = tanh(0.5 * x2).clamp_min(0.0);
        var c2 = tanh(-0.5 * x2).clamp_min(0.0);
        var f1Sq = ((-x1 + 7).pow(2) + 0.1 * (-x2 - 8).pow(2)) / 10 - 20;
        var f2Sq = ((-x1 - 7).pow(2) + 0.1 * (-x2 - 8).pow(2)) / 10 - 20;
        return (c1 * f1 + c2 * f1Sq, c1 * f2 + c2 * f2Sq);
    }
}
