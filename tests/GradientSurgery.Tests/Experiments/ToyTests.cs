using GradientSurgery.Aggregation;
using GradientSurgery.Experiments.Toy;
using GradientSurgery.Weighting;
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
        using var scope = NewDisposeScope();
        var theta = tensor(new[] { x, y }, requires_grad: true);
        var (l1, l2) = name == "paper" ? PaperLosses(theta) : CAGradLosses(theta);
        AssertMatchesClosedForm(landscape, x, y, theta, l1, l2);
    }

    [Theory]
    [MemberData(nameof(Points))]
    public void TensorLossesAreTheClosedFormFunctions(string name, double x, double y)
    {
        var landscape = ToyLandscapes.Find(name);
        using var scope = NewDisposeScope();
        var theta = tensor(new[] { x, y }, requires_grad: true);
        var (l1, l2) = landscape.Losses(theta);
        Assert.Equal(0, l1.dim());
        AssertMatchesClosedForm(landscape, x, y, theta, l1, l2);
    }

    [Theory]
    [InlineData("paper")]
    [InlineData("cagrad")]
    public void LowerBoundsLieAtLeastOneBelowEveryLoss(string name)
    {
        var landscape = ToyLandscapes.Find(name);
        var (b1, b2) = landscape.LossLowerBounds;
        var lowest = (L1: double.PositiveInfinity, L2: double.PositiveInfinity);
        // A grid over the figure's region and beyond, plus the curves where the paper landscape's floors are reached.
        var points = from i in Enumerable.Range(0, 161) from j in Enumerable.Range(0, 161) select (X: -20 + 0.25 * i, Y: -20 + 0.25 * j);
        points = points.Concat(Enumerable.Range(0, 41).SelectMany(k => new[] { (X: -2 * Math.Tanh(k - 20.0), Y: k - 20.0), (X: 2 * Math.Tanh(k - 20.0) - 4, Y: k - 20.0) }));
        foreach (var (x, y) in points)
        {
            var (l1, l2) = landscape.Losses(x, y);
            lowest = (Math.Min(lowest.L1, l1 - b1), Math.Min(lowest.L2, l2 - b2));
        }
        Assert.True(lowest.L1 >= 1 - 1e-9 && lowest.L2 >= 1 - 1e-9, $"lowest L − b: {lowest}");
        if (name == "paper")
        {
            // The floors are reached on those curves, so the bounds are exactly one below the infima.
            Assert.Equal(1.0, lowest.L1, 9);
            Assert.Equal(1.0, lowest.L2, 9);
        }
    }

    public static IEnumerable<object[]> WeightingsAndLandscapes() =>
        from name in MethodCatalog.NamesOf(MethodKind.LossWeighting) from landscape in new[] { "paper", "cagrad" } select new object[] { name, landscape };

    [Theory]
    [MemberData(nameof(WeightingsAndLandscapes))]
    public void EveryLossWeightingRunsOnTheToy(string method, string name)
    {
        var landscape = ToyLandscapes.Find(name);
        var run = Assert.Single(ToyExperiment.Run(landscape, [method], [landscape.DefaultStarts[0]], 300, 0.01, seed: 0, epochSteps: 50));
        Assert.Equal(MethodCatalog.Find(method).DisplayName, run.DisplayName);
        Assert.Equal(300, run.Trajectory[^1].Step);
        Assert.All(run.Trajectory, p => Assert.True(double.IsFinite(p.X) && double.IsFinite(p.Y), $"{method}: θ = ({p.X}, {p.Y}) at step {p.Step}"));
        Assert.True(double.IsFinite(run.FinalLosses.L1) && double.IsFinite(run.FinalLosses.L2));
        Assert.NotEqual(landscape.DefaultStarts[0], run.Final);
    }

    [Theory]
    [InlineData("paper", 0.5, -3.0)]
    [InlineData("cagrad", -8.5, 7.5)]
    [InlineData("cagrad", 9.0, 9.0)]
    public void GeometricLossStrategyFollowsTheGradientOfTheGeometricMean(string name, double x, double y)
    {
        // GLS through the tensor path (autograd of exp(mean log(L_i − b_i)), torch Adam) against Adam on the closed form
        // ∇ √(ℓ1 ℓ2) = (√(ℓ1 ℓ2) / 2) (∇L1 / ℓ1 + ∇L2 / ℓ2) with ℓ_i = L_i − b_i and the closed-form task gradients.
        var landscape = ToyLandscapes.Find(name);
        var trajectory = ToyOptimizer.Run(landscape, _ => new GeometricLossStrategy(), (x, y), 300, 0.01);

        var (b1, b2) = landscape.LossLowerBounds;
        var adam = new ToyAdam(0.01);
        var theta = new[] { x, y };
        var jacobian = new double[2, 2];
        for (var step = 1; step <= 300; step++)
        {
            var (l1, l2) = landscape.Losses(theta[0], theta[1]);
            var (s1, s2) = (l1 - b1, l2 - b2);
            var half = Math.Sqrt(s1 * s2) / 2;
            landscape.Gradients(theta[0], theta[1], jacobian);
            adam.Step(theta, [half * (jacobian[0, 0] / s1 + jacobian[1, 0] / s2), half * (jacobian[0, 1] / s1 + jacobian[1, 1] / s2)]);
            Assert.Equal(step, trajectory[step].Step);
            Assert.True(Math.Abs(trajectory[step].X - theta[0]) <= 1e-9 && Math.Abs(trajectory[step].Y - theta[1]) <= 1e-9,
                $"step {step}: tensor path ({trajectory[step].X}, {trajectory[step].Y}), closed form ({theta[0]}, {theta[1]})");
        }
        Assert.NotEqual((x, y), (theta[0], theta[1]));
    }

    [Fact]
    public void DwaCountsEveryEpochStepsAsAnEpoch()
    {
        // Before its third epoch DWA weighs every task by 1, so with fewer than two completed epochs it is, operation
        // for operation, the unweighted sum of the shifted losses; with 50-step epochs it reweighs from step 101 on.
        var landscape = new PaperLandscape();
        var sum = ToyOptimizer.Run(landscape, _ => new UnweightedSum(), (0.5, -3.0), 400, 0.01);
        var uniform = ToyOptimizer.Run(landscape, _ => new DynamicWeightAverage(), (0.5, -3.0), 400, 0.01, epochSteps: 200);
        var reweighted = ToyOptimizer.Run(landscape, _ => new DynamicWeightAverage(), (0.5, -3.0), 400, 0.01, epochSteps: 50);
        Assert.Equal(sum, uniform);
        Assert.Equal(sum.Take(101), reweighted.Take(101));
        Assert.True(Math.Abs(sum[^1].X - reweighted[^1].X) > 1e-6, $"{sum[^1]} vs {reweighted[^1]}");
    }

    /// <summary>L1 + L2 with unit weights, built as DWA builds its weighted sum.</summary>
    private sealed class UnweightedSum : ILossWeighting
    {
        public double[] LastWeights => [1.0, 1.0];

        public Tensor Combine(IReadOnlyList<Tensor> losses) => losses[0] * 1.0 + losses[1] * 1.0;
    }

    [Fact]
    public void GradNormBalancesOnThetaItself()
    {
        using var scope = NewDisposeScope();
        GradNorm? gradNorm = null;
        ToyOptimizer.Run(new PaperLandscape(), theta =>
        {
            Assert.Equal(new long[] { 2 }, theta.shape);
            Assert.Equal(ScalarType.Float64, theta.dtype);
            return gradNorm = new GradNorm(theta, 2);
        }, (0.5, -3.0), 20, 0.01);
        // ‖∇_θ L_i‖ at the last step: the full task gradients, as the closed form gives them.
        Assert.All(gradNorm!.LastGradientNorms, n => Assert.True(n > 0));
        Assert.Equal(2.0, gradNorm.LastWeights.Sum(), 12);
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

    /// <summary>The tensor losses at θ = (x, y) have the closed form's values and, through autograd, its gradients.</summary>
    private static void AssertMatchesClosedForm(IToyLandscape landscape, double x, double y, Tensor theta, Tensor l1, Tensor l2)
    {
        var jacobian = new double[2, 2];
        landscape.Gradients(x, y, jacobian);
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
