using System.Reflection;
using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using GradientSurgery.Weighting;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Tests;

/// <summary>The one catalog of methods: names, aliases, argument keys, and one training step for both kinds.</summary>
public sealed class MethodCatalogTests
{
    public static TheoryData<string> Names => [.. MethodCatalog.Names];

    [Fact]
    public void NamesAndAliasesAreUniqueLowerCaseAndEwIsTheMean()
    {
        var all = MethodCatalog.All.SelectMany(m => m.Aliases.Prepend(m.Name)).ToArray();
        Assert.Equal(all.Length, all.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(all, n => Assert.Equal(n.ToLowerInvariant(), n));
        Assert.Same(MethodCatalog.Find("mean"), MethodCatalog.Find("EW"));
        Assert.Equal("mean", MethodCatalog.Canonical(" ew"));
        Assert.Equal("mean:x=1", MethodCatalog.Canonical("EW:x=1"));
        Assert.Equal("pcgrad:reduction=mean", MethodCatalog.Canonical("PCGrad:reduction=mean"));
        Assert.IsType<Mean>(MethodCatalog.CreateAggregator("ew", 0));
    }

    /// <summary>
    /// Every argument key is the name of a parameter of a public constructor of the class the method creates, so the
    /// documentation of that constructor documents the key.
    /// </summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void EveryArgumentKeyIsAConstructorParameterOfTheMethodsClass(string name)
    {
        var entry = MethodCatalog.Find(name);
        var type = CreatedType(entry);
        var constructorParameters = type.GetConstructors(BindingFlags.Public | BindingFlags.Instance)
            .SelectMany(c => c.GetParameters()).Select(p => p.Name!).ToHashSet(StringComparer.OrdinalIgnoreCase);
        Assert.All(MethodCatalog.Parameters(entry), p => Assert.Contains(p.Name, constructorParameters));
    }

    [Fact]
    public void ParametersListKeysAliasesAndDefaults()
    {
        var famo = MethodCatalog.Parameters(MethodCatalog.Find("famo"));
        Assert.Equal(["logitLearningRate", "decay", "update"], famo.Select(p => p.Name));
        Assert.Equal(["lr"], famo[0].Aliases);
        Assert.Equal(("number", "0.025"), (famo[0].Type, famo[0].Default));
        Assert.Equal(("adam|gradientdescent", "adam"), (famo[2].Type, famo[2].Default));
        Assert.Equal([("updateWeightsEvery", "integer", "1")], MethodCatalog.Parameters(MethodCatalog.Find("nashmtl")).Select(p => (p.Name, p.Type, p.Default)));
        Assert.Empty(MethodCatalog.Parameters(MethodCatalog.Find("upgrad")));
    }

    [Fact]
    public void KeysAreCaseInsensitiveAliasesWorkAndAKeyGivenTwiceIsRefused()
    {
        Assert.Equal(5, Assert.IsType<NashMTL>(MethodCatalog.CreateAggregator("nashmtl:UpdateWeightsEvery=5", 0)).UpdateWeightsEvery);
        Assert.Equal(5, Assert.IsType<NashMTL>(MethodCatalog.CreateAggregator("nashmtl:update_weights_every=5", 0)).UpdateWeightsEvery);
        Assert.Equal(3.0, Assert.IsType<DynamicWeightAverage>(MethodCatalog.CreateLossWeighting("dwa:temperature=3", 0, new LossWeightingContext(2))).Temperature);
        var error = Assert.Throws<ArgumentException>(() => MethodCatalog.CreateLossWeighting("famo:lr=0.1,logitLearningRate=0.2", 0, new LossWeightingContext(2)));
        Assert.Contains("give it once", error.Message);
        Assert.Contains("'lr=abc'", Assert.Throws<ArgumentException>(() => MethodCatalog.Validate("famo:lr=abc", 0)).Message);
        Assert.Contains("logitLearningRate (lr)", Assert.Throws<ArgumentException>(() => MethodCatalog.Validate("famo:rate=1", 0)).Message);
    }

    [Fact]
    public void AskingForTheWrongKindSaysWhichKindTheMethodIs()
    {
        Assert.Contains("'famo' is a loss weighting", Assert.Throws<ArgumentException>(() => MethodCatalog.CreateAggregator("famo", 0)).Message);
        Assert.Contains("'pcgrad' is an aggregator", Assert.Throws<ArgumentException>(() => MethodCatalog.CreateLossWeighting("pcgrad", 0, new LossWeightingContext(2))).Message);
    }

    /// <summary>
    /// One step abstraction for both kinds: every method of the catalog trains a small two-head model through
    /// <see cref="IMultiTaskStep"/> alone (no branching on the kind), and the summed loss falls.
    /// </summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void EveryMethodTrainsThroughTheSameStep(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var trunk = nn.Sequential(nn.Linear(4, 8), nn.Tanh());
        var heads = new[] { nn.Linear(8, 1), nn.Linear(8, 1) };
        var x = randn(64, 4);
        Tensor[] targets = [x.sum(1, keepdim: true), x.narrow(1, 0, 1) * 2 + 1];
        var shared = trunk.parameters().ToArray();
        var setup = new MethodSetup(
            [.. shared, .. heads.SelectMany(h => h.parameters())], shared, 2, parameters => optim.Adam(parameters, 0.01), (Parameter)trunk.parameters().First());
        using var step = MethodCatalog.CreateStep(name, seed: 1, setup);
        Tensor[] Losses(Tensor features) => [.. heads.Select((h, t) => nn.functional.mse_loss(h.forward(features), targets[t]))];

        double first = 0, last = 0;
        for (var k = 0; k < 60; k++)
        {
            using var stepScope = NewDisposeScope();
            var features = trunk.forward(x);
            var report = step.Step(Losses(features), features, () => Losses(trunk.forward(x)));
            Assert.Equal(MethodCatalog.Find(name).Kind == MethodKind.LossWeighting, report.Conflicts is null);
            (first, last) = (k == 0 ? report.Losses.Sum() : first, report.Losses.Sum());
            if (k % 20 == 19)
            {
                step.EndEpoch();
            }
        }
        Assert.True(last < 0.8 * first, $"{name}: summed loss {first} -> {last}");
    }

    /// <summary>The short entry point gives exactly the gradients of the step object it stands for.</summary>
    [Fact]
    public void MultiTaskBackwardFillsTheSameGradientsAsTheMultiTaskBackwardClass()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var trunk = nn.Linear(3, 4);
        var heads = new[] { nn.Linear(4, 1), nn.Linear(4, 1) };
        var headParameters = heads.SelectMany(h => h.parameters()).ToArray();
        var x = randn(16, 3);
        Tensor[] Losses() => [heads[0].forward(trunk.forward(x)).square().mean(), (heads[1].forward(trunk.forward(x)) - 1).square().mean()];

        MultiTask.Backward(Losses(), new PCGrad(seed: 2), trunk.parameters(), headParameters);
        Assert.Equal(6, trunk.parameters().Concat(headParameters).Count());
        var viaEntryPoint = trunk.parameters().Concat(headParameters).Select(p => p.grad!.clone()).ToArray();
        foreach (var p in trunk.parameters().Concat(headParameters))
        {
            p.grad = null;
        }
        using var backward = new MultiTaskBackward(new PCGrad(seed: 2), trunk.parameters(), headParameters);
        backward.Backward(Losses());

        Assert.All(trunk.parameters().Concat(headParameters).Zip(viaEntryPoint), pair => Assert.True(pair.First.grad!.equal(pair.Second).all().item<bool>()));
    }

    private static Type CreatedType(MethodEntry entry)
    {
        using var scope = NewDisposeScope();
        var layer = new Parameter(zeros(1), requires_grad: true);
        return entry.Kind == MethodKind.Aggregator
            ? MethodCatalog.CreateAggregator(entry.Name, 0).GetType()
            : MethodCatalog.CreateLossWeighting(entry.Name, 0, new LossWeightingContext(2, SharedLayerWeight: layer)).GetType();
    }
}
