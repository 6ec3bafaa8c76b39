using GradientSurgery.Aggregation;
using GradientSurgery.Tests.Training;
using GradientSurgery.Training;
using GradientSurgery.Weighting;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Weighting;

/// <summary>The loss-weighting registry and the unified method resolution.</summary>
public sealed class LossWeightingRegistryTests
{
    public static TheoryData<string> Names => [.. MethodCatalog.NamesOf(MethodKind.LossWeighting)];

    private static Parameter LastLayer(TinyMultiTaskModel model) => model.Trunk.children().OfType<Linear>().Last().weight!;

    private static LossWeightingContext Context(int tasks = 2, UncertaintyTaskKind likelihood = UncertaintyTaskKind.Regression) =>
        new(tasks, Dtype: ScalarType.Float64, SharedLayerWeight: new Parameter(ones(3, dtype: ScalarType.Float64)), Likelihood: likelihood);

    [Fact]
    public void NamesAreUniqueLowerCaseAndDistinctFromTheAggregators()
    {
        Assert.Equal(["uw", "dwa", "gradnorm", "famo", "gls", "stch"], MethodCatalog.NamesOf(MethodKind.LossWeighting));
        Assert.All(MethodCatalog.NamesOf(MethodKind.LossWeighting), n => Assert.Equal(n.ToLowerInvariant(), n));
        Assert.Empty(MethodCatalog.NamesOf(MethodKind.LossWeighting).Intersect(MethodCatalog.NamesOf(MethodKind.Aggregator), StringComparer.OrdinalIgnoreCase));
        Assert.Equal(MethodCatalog.Names.Count(), MethodCatalog.Names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.Equal(MethodCatalog.NamesOf(MethodKind.Aggregator).Concat(MethodCatalog.NamesOf(MethodKind.LossWeighting)), MethodCatalog.Names);
    }

    [Fact]
    public void MethodsResolveEitherKindAndListBothWhenTheNameIsUnknown()
    {
        Assert.Equal(MethodKind.Aggregator, MethodCatalog.Find("PCGrad").Kind);
        var famo = MethodCatalog.Resolve("famo:gamma=0.01");
        Assert.Equal((MethodKind.LossWeighting, "FAMO"), (famo.Kind, famo.DisplayName));
        Assert.Contains("NeurIPS 2023", famo.Reference);

        var error = Assert.Throws<ArgumentException>(() => MethodCatalog.Find("nosuch"));
        Assert.Contains("Unknown method 'nosuch'", error.Message);
        Assert.Contains("pcgrad", error.Message);
        Assert.Contains("gradnorm", error.Message);
        Assert.Contains("key=value", Assert.Throws<ArgumentException>(() => MethodCatalog.Resolve("dwa:t")).Message);
        Assert.Contains("no method name", Assert.Throws<ArgumentException>(() => MethodCatalog.Resolve(":t=1")).Message);
    }

    [Fact]
    public void DefaultsAreThoseDocumented()
    {
        Assert.Equal(2.0, Assert.IsType<DynamicWeightAverage>(MethodCatalog.CreateLossWeighting("dwa", 0, Context())).Temperature);
        Assert.Equal(1.5, Assert.IsType<GradNorm>(MethodCatalog.CreateLossWeighting("gradnorm", 0, Context())).Alpha);
        var famo = Assert.IsType<FAMO>(MethodCatalog.CreateLossWeighting("famo", 0, Context()));
        Assert.Equal((0.025, 1e-3, FamoLogitUpdate.Adam), (famo.LogitLearningRate, famo.Decay, famo.LogitUpdate));
        Assert.Equal(1.0, Assert.IsType<SmoothTchebycheff>(MethodCatalog.CreateLossWeighting("stch", 0, Context())).Mu);
        Assert.IsType<GeometricLossStrategy>(MethodCatalog.CreateLossWeighting("gls", 0, Context()));
        var uw = Assert.IsType<UncertaintyWeighting>(MethodCatalog.CreateLossWeighting("uw", 0, Context(tasks: 3)));
        Assert.Equal([0.0, 0.0, 0.0], uw.LogVariances.data<double>().ToArray());
        Assert.All(uw.Kinds, k => Assert.Equal(UncertaintyTaskKind.Regression, k));
        // The context's likelihood is the default (a trainer of cross-entropy losses asks for Eq. 10).
        var classification = Assert.IsType<UncertaintyWeighting>(MethodCatalog.CreateLossWeighting("uw", 0, Context(likelihood: UncertaintyTaskKind.Classification)));
        Assert.All(classification.Kinds, k => Assert.Equal(UncertaintyTaskKind.Classification, k));
    }

    [Fact]
    public void ArgumentsReachTheMethod()
    {
        var uw = Assert.IsType<UncertaintyWeighting>(MethodCatalog.CreateLossWeighting("uw:init=-0.5,likelihood=classification", 0, Context()));
        Assert.Equal([-0.5, -0.5], uw.LogVariances.data<double>().ToArray());
        Assert.All(uw.Kinds, k => Assert.Equal(UncertaintyTaskKind.Classification, k));
        Assert.Equal(3.0, Assert.IsType<DynamicWeightAverage>(MethodCatalog.CreateLossWeighting("dwa:t=3", 0, Context())).Temperature);
        Assert.Equal(0.5, Assert.IsType<GradNorm>(MethodCatalog.CreateLossWeighting("GradNorm:alpha=0.5", 0, Context())).Alpha);
        var famo = Assert.IsType<FAMO>(MethodCatalog.CreateLossWeighting("famo:lr=0.1, gamma=0.01, update=gradientdescent", 0, Context()));
        Assert.Equal((0.1, 0.01, FamoLogitUpdate.GradientDescent), (famo.LogitLearningRate, famo.Decay, famo.LogitUpdate));
        Assert.Equal(0.25, Assert.IsType<SmoothTchebycheff>(MethodCatalog.CreateLossWeighting("stch:mu=0.25", 0, Context())).Mu);
    }

    [Theory]
    [InlineData("famo:beta=1", "no argument 'beta'")]
    [InlineData("gls:mu=1", "it takes no arguments")]
    [InlineData("dwa:t=0", "temperature")]
    [InlineData("stch:mu=-1", "μ")]
    [InlineData("famo:update=sgd", "adam, gradientdescent")]
    [InlineData("uw:init=abc", "not a finite number")]
    [InlineData("pcgrad:colour=blue", "no argument 'colour'")]
    [InlineData("mgda:normalization=l3", "l3")]
    public void ValidationRejectsBadSpecificationsOfEitherKind(string specification, string reason)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => MethodCatalog.Validate(specification, seed: 0));
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void ValidationAcceptsGoodSpecificationsWithoutAModel()
    {
        Assert.Equal(MethodKind.LossWeighting, MethodCatalog.Validate("gradnorm:alpha=2", 0).Kind);
        Assert.Equal(MethodKind.LossWeighting, MethodCatalog.Validate("uw:likelihood=classification", 0).Kind);
        Assert.Equal(MethodKind.Aggregator, MethodCatalog.Validate("pcgrad:reduction=mean", 0).Kind);
    }

    [Fact]
    public void GradNormWithoutASharedLayerSaysWhatIsMissing()
    {
        var error = Assert.Throws<ArgumentException>(() => MethodCatalog.CreateLossWeighting("gradnorm", 0, new LossWeightingContext(2)));
        Assert.Contains("last shared layer", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => MethodCatalog.CreateLossWeighting("dwa", 0, new LossWeightingContext(0)));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void TrainsTheTinyModel(string name)
    {
        using var model = new TinyMultiTaskModel(tasks: 3, seed: 4);
        var weighting = MethodCatalog.CreateLossWeighting(name, seed: 2, new LossWeightingContext(3, Dtype: ScalarType.Float64, SharedLayerWeight: LastLayer(model)));
        var learnable = (weighting as ILearnableLossWeighting)?.parameters() ?? [];
        var optimizer = new LossWeightingStep(optim.Adam(model.All.Concat(learnable), 0.01), weighting);
        double[] first = [], last = [];
        for (var step = 0; step < 60; step++)
        {
            using var scope = NewDisposeScope();
            var report = optimizer.Step(model.Losses(), () => model.Losses());
            Assert.All(report.Weights!, w => Assert.True(double.IsFinite(w)));
            if (step % 10 == 9)
            {
                optimizer.EndEpoch();
            }
            if (step == 0)
            {
                first = report.Losses;
            }
            last = report.Losses;
        }
        Assert.True(last.Sum() < first.Sum(), $"{name}: total loss {first.Sum()} → {last.Sum()}");
    }
}
