using GradientSurgery.Experiments.Supervised;
using GradientSurgery.Models;
using GradientSurgery.Weighting;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Tests.Models;

/// <summary>
/// <see cref="RoutingNetwork"/>: shapes, the declared parameter split, gradients that reach only what a route took,
/// the Weighted Policy Learner's update checked against numbers worked out by hand, eval routes, saved policies,
/// reproducible draws, and training through every method of the catalog and through the trainer (resumed exactly).
/// </summary>
public sealed class RoutingNetworkTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-routing-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>A small network on N×4 inputs: trunk linear(4→6) → ReLU, <paramref name="layers"/> routed layers of <paramref name="blocks"/> blocks of width 5.</summary>
    private static RoutingNetwork Small(int tasks = 3, int layers = 2, int blocks = 3, int classes = 4, RouterSettings? router = null) =>
        new(Sequential(Linear(4, 6), ReLU()), 6, layers, blocks, 5, tasks, classes, router);

    private static double[] Probabilities(RoutingNetwork model) => model.Policy.to(ScalarType.Float64).data<double>().ToArray();

    private static int[] Flat(int[,]? routes) => routes is null ? [] : [.. routes.Cast<int>()];

    private static Tensor[] Losses(Tensor[] outputs, Tensor[] labels) =>
        [.. outputs.Select((o, t) => functional.cross_entropy(o, labels[t]))];

    [Fact]
    public void EveryTaskHasAnOutputOfItsClassesForEveryExample()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var small = Small();
        var output = small.Forward(randn(7, 4));
        Assert.Null(output.SharedFeatures);
        Assert.Equal(3, output.Outputs.Length);
        Assert.All(output.Outputs, o => Assert.Equal([7L, 4L], o.shape));
        Assert.Equal([3L, 2L, 3L], small.Policy.shape);
        Assert.All(Probabilities(small), p => Assert.Equal(1.0 / 3, p, 15));

        using var mnist = RoutingNetwork.ForMultiMnist();
        Assert.Equal((2, 2, 4), (mnist.TaskCount, mnist.Layers, mnist.Blocks));
        Assert.All(mnist.forward(rand(5, 1, 28, 28)), o => Assert.Equal([5L, 10L], o.shape));

        using var cifar = RoutingNetwork.ForCifarMtl();
        Assert.Equal((20, 3, 20), (cifar.TaskCount, cifar.Layers, cifar.Blocks));
        var cifarOutputs = cifar.forward(rand(2, 3, 32, 32));
        Assert.Equal(20, cifarOutputs.Length);
        Assert.All(cifarOutputs, o => Assert.Equal([2L, 5L], o.shape));
        Assert.Equal([128L, 128L], cifar.named_parameters().Single(p => p.name == "blocks.1.7.weight").parameter.shape);
        Assert.Equal([32L, 32L, 3L, 3L], cifar.LastSharedLayerWeight.shape);
    }

    [Fact]
    public void SharedAndTaskParametersCoverEveryParameterExactlyOnce()
    {
        using var model = Small();
        var all = model.parameters().Select(p => p.Handle).ToArray();
        var shared = model.SharedParameters.Select(p => p.Handle).ToArray();
        var own = model.TaskParameters.SelectMany(ps => ps.Select(p => p.Handle)).ToArray();
        // Trunk (weight, bias) + 2 layers × 3 blocks × (weight, bias); 3 heads × (weight, bias).
        Assert.Equal(2 + 12, shared.Length);
        Assert.Equal(6, own.Length);
        Assert.Equal(all.Length, shared.Length + own.Length);
        Assert.Equal(all.ToHashSet(), shared.Concat(own).ToHashSet());
        Assert.Empty(shared.Intersect(own));
        Assert.All(model.TaskParameters, ps => Assert.Equal(2, ps.Count()));
        Assert.Contains(model.LastSharedLayerWeight.Handle, shared);
        // The router is state, not a parameter: saved with the model, never given to an optimizer.
        Assert.Equal(["policy", "values"], model.named_buffers().Select(b => b.name).Order());
    }

    [Fact]
    public void ATasksOutputLayerNeverReceivesAnotherTasksGradient()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var model = Small(tasks: 2);
        var (outputs, _) = model.Forward(randn(8, 4));
        var losses = Losses(outputs, [randint(0, 4, 8), randint(0, 4, 8)]);
        var ownHead = autograd.grad([losses[0]], [.. model.TaskParameters[0]], retain_graph: true, allow_unused: true);
        var otherHead = autograd.grad([losses[0]], [.. model.TaskParameters[1]], retain_graph: true, allow_unused: true);
        Assert.All(ownHead, g => Assert.False(g.IsInvalid));
        Assert.All(otherHead, g => Assert.True(g.IsInvalid));
    }

    /// <summary>With a policy that sends tasks 0 and 1 through block 1 of layer 0 and apart after it, that block's gradient of the summed loss is the sum of theirs.</summary>
    [Fact]
    public void ABlockTwoTasksShareGetsTheSumOfTheirGradients()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = Small(tasks: 2, layers: 2, blocks: 3);
        using (no_grad())
        {
            model.Policy.copy_(tensor(new double[] { 0, 1, 0, 1, 0, 0, /* task 1 */ 0, 1, 0, 0, 0, 1 }).view(2, 2, 3));
        }
        var (outputs, _) = model.Forward(randn(8, 4));
        Assert.Equal([1, 0, 1, 2], Flat(model.LastRoutes));
        var losses = Losses(outputs, [randint(0, 4, 8), randint(0, 4, 8)]);
        var block = model.named_parameters().Where(p => p.name.StartsWith("blocks.0.1.", StringComparison.Ordinal)).Select(p => p.parameter).ToArray();
        Assert.Equal(2, block.Length);
        var first = autograd.grad([losses[0]], block, retain_graph: true);
        var second = autograd.grad([losses[1]], block, retain_graph: true);
        var both = autograd.grad([losses[0] + losses[1]], block, retain_graph: true);
        for (var k = 0; k < block.Length; k++)
        {
            Assert.True(first[k].abs().sum().item<float>() > 0 && second[k].abs().sum().item<float>() > 0);
            Assert.True(both[k].allclose(first[k] + second[k], rtol: 1e-5, atol: 1e-7));
        }
        // Blocks no route took get no gradient at all.
        var unused = model.named_parameters().Where(p => p.name.StartsWith("blocks.0.0.", StringComparison.Ordinal)).Select(p => p.parameter).ToArray();
        Assert.All(autograd.grad([losses[0] + losses[1]], unused, allow_unused: true), g => Assert.True(g.IsInvalid));
    }

    /// <summary>
    /// Two tasks, two layers, two blocks; η = 0.2, α = 0.5, ρ = 0.4, ε_min = 0.05. Task 0 routes (0, 1) with final
    /// reward 1; task 1 routes (0, 0) and has no labelled example (no update). Worked out by hand:
    /// collaboration of task 0: layer 0 shares block 0 with task 1 → 0.4·1/1 = 0.4; layer 1 does not → 0.
    /// Returns: G1 = 1, G0 = 1 + 0.4 = 1.4.
    /// Layer 0, π = (0.5, 0.5): Q = (0.5·1.4, 0) = (0.7, 0); V = 0.35; Δ = (0.35, −0.35); weighted by (1 − 0.5, 0.5):
    /// (0.175, −0.175); π + 0.2·that = (0.535, 0.465), already a distribution.
    /// Layer 1, π = (0.6, 0.4): Q = (0, 0.5·1) = (0, 0.5); V = 0.4·0.5 = 0.2; Δ = (−0.2, 0.3); weighted by (π0 = 0.6,
    /// 1 − π1 = 0.6): (−0.12, 0.18); π + 0.2·that = (0.576, 0.436), sum 1.012, renormalised.
    /// </summary>
    [Fact]
    public void TheWplUpdateMatchesNumbersWorkedOutByHand()
    {
        double[] policy = [0.5, 0.5, 0.6, 0.4, /* task 1 */ 0.5, 0.5, 0.5, 0.5];
        var values = new double[8];
        var settings = new RouterSettings(LearningRate: 0.2, ValueRate: 0.5, CollaborationReward: 0.4, MinimumProbability: 0.05);

        WeightedPolicyLearner.Update(policy, values, new[,] { { 0, 1 }, { 0, 0 } }, [1.0, null], settings);

        double[] expectedPolicy = [0.535, 0.465, 0.576 / 1.012, 0.436 / 1.012, 0.5, 0.5, 0.5, 0.5];
        double[] expectedValues = [0.7, 0, 0, 0.5, 0, 0, 0, 0];
        Assert.Equal(expectedPolicy, policy, (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal(expectedValues, values, (a, b) => Math.Abs(a - b) < 1e-12);
    }

    /// <summary>
    /// One task, π = (0.9, 0.06, 0.04), block 0 rewarded 1, η = α = 1, ε_min = 0.05: Q = (1, 0, 0), V = 0.9,
    /// Δ = (0.1, −0.9, −0.9), weighted (0.1·0.1, −0.9·0.06, −0.9·0.04) = (0.01, −0.054, −0.036), so π becomes
    /// (0.91, 0.006, 0.004), clipped to (0.91, 0.05, 0.05) and divided by 1.01.
    /// </summary>
    [Fact]
    public void TheWplUpdateClipsToTheMinimumProbabilityAndRenormalises()
    {
        double[] policy = [0.9, 0.06, 0.04];
        var values = new double[3];
        WeightedPolicyLearner.Update(policy, values, new[,] { { 0 } }, [1.0], new RouterSettings(1, 1, 0.3, 0.05));
        Assert.Equal([0.91 / 1.01, 0.05 / 1.01, 0.05 / 1.01], policy, (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal(new double[] { 1, 0, 0 }, values);
    }

    /// <summary>Rewards only when the route took block 2: its probability rises towards 1, and every policy stays a distribution.</summary>
    [Fact]
    public void AConsistentlyRewardedBlockGainsProbabilityAndPoliciesStayDistributions()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var model = Small(tasks: 2, layers: 1, blocks: 3, classes: 2, router: new RouterSettings(LearningRate: 0.05, ValueRate: 0.5, CollaborationReward: 0));
        var x = randn(6, 4);
        Tensor labels = zeros(6, dtype: ScalarType.Int64);
        var right = tensor(new float[] { 1, 0 }).expand(6, 2);
        var wrong = tensor(new float[] { 0, 1 }).expand(6, 2);
        var previous = 1.0 / 3;
        for (var step = 0; step < 150; step++)
        {
            using var stepScope = NewDisposeScope();
            model.Forward(x);
            var routes = model.LastRoutes!;
            // Task 0 is right only through block 2; task 1's outputs are random, so its reward is noise.
            model.Reward([routes[0, 0] == 2 ? right : wrong, randn(6, 2)], [labels, randint(0, 2, 6)]);
            var policy = Probabilities(model);
            for (var t = 0; t < 2; t++)
            {
                var row = policy.Skip(3 * t).Take(3).ToArray();
                Assert.All(row, p => Assert.True(p > 0 && p <= 1));
                Assert.Equal(1.0, row.Sum(), 12);
            }
            // It rises while it can; at the top it stays at 1 − 2·ε_min (the other two blocks clipped), up to rounding.
            Assert.True(policy[2] > previous || policy[2] > 0.997, $"step {step + 1}: π(block 2) = {policy[2]}, was {previous}");
            previous = policy[2];
        }
        Assert.True(previous > 0.9, $"π(block 2) = {previous}");
    }

    [Fact]
    public void ATaskWithoutALabelledExampleIsNotUpdated()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = Small(tasks: 2, layers: 2, blocks: 3, classes: 2);
        var (outputs, _) = model.Forward(randn(4, 4));
        var before = Probabilities(model);
        model.Reward([.. outputs.Select(o => o.detach())], [tensor(new long[] { 0, -1, 1, -1 }), full(4, -1L)]);
        var after = Probabilities(model);
        Assert.Equal(before.Skip(6), after.Skip(6));
        Assert.NotEqual(before.Take(6), after.Take(6));
        Assert.Null(model.LastRoutes);
        Assert.Throws<InvalidOperationException>(() => model.Reward([.. outputs.Select(o => o.detach())], [zeros(4, dtype: ScalarType.Int64), zeros(4, dtype: ScalarType.Int64)]));
    }

    [Fact]
    public void EvalModeTakesTheMostProbableBlocksWithoutDrawing()
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        using var model = Small(tasks: 2, layers: 2, blocks: 3);
        using (no_grad())
        {
            model.Policy.copy_(tensor(new double[] { 0.2, 0.5, 0.3, 0.6, 0.3, 0.1, /* task 1 */ 0.1, 0.1, 0.8, 0.3, 0.4, 0.3 }).view(2, 2, 3));
        }
        model.eval();
        var x = randn(5, 4);
        manual_seed(7);
        var first = model.Forward(x).Outputs;
        var second = model.forward(x);
        var next = rand(1).item<float>();
        manual_seed(7);
        Assert.Equal(next, rand(1).item<float>());
        Assert.Equal([1, 0, 2, 1], Flat(model.ChooseRoutes()));
        Assert.Null(model.LastRoutes);
        for (var t = 0; t < 2; t++)
        {
            Assert.True(first[t].eq(second[t]).all().item<bool>());
        }
    }

    [Fact]
    public void SavingAndLoadingKeepsThePolicyAndValues()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        using var trained = Small(tasks: 2);
        var x = randn(6, 4);
        for (var step = 0; step < 5; step++)
        {
            var (outputs, _) = trained.Forward(x);
            trained.Reward([.. outputs.Select(o => o.detach())], [randint(0, 4, 6), randint(0, 4, 6)]);
        }
        var path = Path.Combine(_directory, "routing.bin");
        trained.save(path);
        manual_seed(9);
        using var loaded = Small(tasks: 2);
        Assert.NotEqual(Probabilities(trained), Probabilities(loaded));
        loaded.load(path);
        Assert.Equal(Probabilities(trained), Probabilities(loaded));
        Assert.True(trained.Values.eq(loaded.Values).all().item<bool>());
        trained.eval();
        loaded.eval();
        Assert.Equal(Flat(trained.ChooseRoutes()), Flat(loaded.ChooseRoutes()));
    }

    [Fact]
    public void TheSameSeedGivesTheSameRoutesAndADifferentOneOtherRoutes()
    {
        using var scope = NewDisposeScope();
        manual_seed(10);
        using var model = Small(tasks: 4, layers: 3, blocks: 5);
        int[] Draws(long seed)
        {
            manual_seed(seed);
            return [.. Enumerable.Range(0, 4).SelectMany(_ => Flat(model.ChooseRoutes()))];
        }
        Assert.Equal(Draws(11), Draws(11));
        Assert.NotEqual(Draws(11), Draws(12));
        var x = randn(3, 4);
        manual_seed(13);
        model.Forward(x);
        var routes = model.LastRoutes;
        manual_seed(13);
        Assert.Equal(Flat(routes), Flat(model.ChooseRoutes()));
    }

    [Fact]
    public void BadInputsAreRefusedNamingTheCulprit()
    {
        using var scope = NewDisposeScope();
        using var model = Small(tasks: 2);
        Assert.Equal("inputs", Assert.Throws<ArgumentException>(() => model.Forward(randn(3, 2, 4))).ParamName);
        using var mnist = RoutingNetwork.ForMultiMnist();
        Assert.Throws<ArgumentException>(() => mnist.Forward(rand(2, 3, 32, 32)));
        var (outputs, _) = model.Forward(randn(3, 4));
        Tensor[] labels = [zeros(3, dtype: ScalarType.Int64), zeros(3, dtype: ScalarType.Int64)];
        Assert.Equal("outputs", Assert.Throws<ArgumentException>(() => model.Reward([outputs[0]], labels)).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => model.Reward(outputs, [labels[0]])).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => model.Reward(outputs, [labels[0], zeros(4, dtype: ScalarType.Int64)])).ParamName);
        Assert.Equal("routes", Assert.Throws<ArgumentException>(() => model.Route(randn(3, 4), new int[2, 1])).ParamName);
        Assert.Equal("MinimumProbability", Assert.Throws<ArgumentOutOfRangeException>(() => Small(blocks: 4, router: new RouterSettings(MinimumProbability: 0.25))).ParamName);
        // A data-parallel shard would let the ranks' routers drift apart.
        model.Shard.Select(0, 6);
        Assert.Throws<NotSupportedException>(() => model.Reward([.. outputs.Select(o => o.detach())], labels));
    }

    public static TheoryData<string> Methods => [.. MethodCatalog.Names];

    /// <summary>Every method of the catalog steps a routing network as the trainer does (no shared features, task-owned heads), and the router keeps learning.</summary>
    [Theory]
    [MemberData(nameof(Methods))]
    public void EveryCatalogMethodTrainsARoutingNetwork(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(14);
        using var model = Small(tasks: 2, layers: 2, blocks: 3, classes: 3);
        var setup = new MethodSetup(
            model.parameters(), model.SharedParameters, model.TaskCount, parameters => optim.Adam(parameters, 0.01),
            model.LastSharedLayerWeight, UncertaintyTaskKind.Classification, model.TaskParameters);
        using var step = MethodCatalog.CreateStep(name, seed: 1, setup);
        var x = randn(32, 4);
        Tensor[] labels = [x.narrow(1, 0, 1).gt(0).view(-1).to(ScalarType.Int64), x.narrow(1, 1, 1).gt(0).view(-1).to(ScalarType.Int64) * 2];
        for (var k = 0; k < 5; k++)
        {
            using var stepScope = NewDisposeScope();
            var (outputs, features) = model.Forward(x);
            Assert.Null(features);
            var report = step.Step(Losses(outputs, labels), features, () => Losses(model.forward(x), labels));
            Assert.All(report.Losses, l => Assert.True(double.IsFinite(l), $"{name}: loss {l}"));
            model.Reward([.. outputs.Select(o => o.detach())], labels);
        }
        Assert.All(model.parameters(), p => Assert.True(p.isfinite().all().item<bool>(), name));
        Assert.NotEqual(1.0 / 3, Probabilities(model)[0]);
        Assert.All(model.Policy.sum(-1).data<double>().ToArray(), s => Assert.Equal(1.0, s, 12));
    }

    /// <summary>
    /// A loss weighting's step leaves a block that no route took in that step as it is, even one that Adam moved
    /// before (gradients are cleared to none, not zeroed, so no momentum step): a resumed run, whose parameters start
    /// without gradients, then does what an uninterrupted one does.
    /// </summary>
    [Fact]
    public void ALossWeightingStepLeavesABlockNoRouteTookAlone()
    {
        using var scope = NewDisposeScope();
        manual_seed(17);
        using var model = Small(tasks: 2, layers: 1, blocks: 2, classes: 3);
        var setup = new MethodSetup(
            model.parameters(), model.SharedParameters, model.TaskCount, parameters => optim.Adam(parameters, 0.01),
            model.LastSharedLayerWeight, UncertaintyTaskKind.Classification, model.TaskParameters);
        using var step = MethodCatalog.CreateStep("dwa", seed: 1, setup);
        var x = randn(16, 4);
        Tensor[] labels = [randint(0, 3, 16), randint(0, 3, 16)];
        var block0 = model.named_parameters().Where(p => p.name.StartsWith("blocks.0.0.", StringComparison.Ordinal)).Select(p => p.parameter).ToArray();
        void StepThrough(int block)
        {
            using var stepScope = NewDisposeScope();
            using (no_grad())
            {
                model.Policy.copy_(functional.one_hot(tensor(new long[] { block, block }), 2).to(ScalarType.Float64).view(2, 1, 2));
            }
            var (outputs, _) = model.Forward(x);
            step.Step(Losses(outputs, labels), null, null);
        }
        StepThrough(0);
        StepThrough(0);
        var before = block0.Select(p => p.detach().clone()).ToArray();
        StepThrough(1);
        for (var k = 0; k < block0.Length; k++)
        {
            Assert.True(block0[k].eq(before[k]).all().item<bool>());
        }
    }

    /// <summary>A routing run through the trainer, interrupted and resumed, ends with the weights and router of an uninterrupted one (routes drawn from the checkpointed generator). FAMO exercises the trainer's second forward pass.</summary>
    [Theory]
    [InlineData("pcgrad")]
    [InlineData("famo")]
    public void TheTrainerResumesARoutingRunExactly(string method)
    {
        var generator = new Generator(15);
        using var train = new ClassificationData(rand(48, 1, 4, 4, generator: generator), [randint(0, 3, 48, generator: generator), randint(0, 3, 48, generator: generator)]);
        using var test = new ClassificationData(rand(16, 1, 4, 4, generator: generator), [randint(0, 3, 16, generator: generator), randint(0, 3, 16, generator: generator)]);
        static RoutingNetwork Create() => new(Sequential(Flatten(), Linear(16, 8), ReLU()), 8, 2, 4, 8, 2, 3);
        var trainer = new MultiTaskTrainer<RoutingNetwork>(Create);
        var settings = new TrainingSettings("random", method, Epochs: 2, BatchSize: 8, LearningRate: 1e-2, Seed: 16, TrainExamples: 48);
        var straight = Path.Combine(_directory, "straight");
        var interrupted = Path.Combine(_directory, "interrupted");

        Assert.True(trainer.Train(settings, train, test, straight, resume: false).Completed);
        Assert.False(trainer.Train(settings, train, test, interrupted, resume: false, stopAfterSteps: 8).Completed);
        Assert.True(trainer.Train(settings, train, test, interrupted, resume: true).Completed);

        using var a = Create();
        using var b = Create();
        a.load(MultiTaskTrainer<RoutingNetwork>.ModelPath(straight));
        b.load(MultiTaskTrainer<RoutingNetwork>.ModelPath(interrupted));
        Assert.NotEqual(1.0 / 4, Probabilities(a)[0]);
        Assert.Equal(Probabilities(a), Probabilities(b));
        Assert.True(a.Values.eq(b.Values).all().item<bool>());
        Assert.Equal(a.parameters().Select(p => p.data<float>().ToArray()), b.parameters().Select(p => p.data<float>().ToArray()));
    }
}
