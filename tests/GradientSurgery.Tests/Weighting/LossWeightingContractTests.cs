using GradientSurgery.Weighting;
using TorchSharp.Modules;
using static GradientSurgery.Tests.Weighting.WeightingTestHelpers;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Weighting;

/// <summary>What every <see cref="ILossWeighting"/> promises: LastWeights = ∂objective/∂L_i, and clear errors for bad lists.</summary>
public sealed class LossWeightingContractTests
{
    private const int TaskCount = 3;

    public static TheoryData<string> Names => ["uw", "uw-classification", "dwa", "gradnorm", "famo", "gls", "stch"];

    private static ILossWeighting Create(string name, Parameter layer) => name switch
    {
        "uw" => new UncertaintyWeighting(TaskCount, initialLogVariance: 0.3, dtype: ScalarType.Float64),
        "uw-classification" => new UncertaintyWeighting([UncertaintyTaskKind.Classification, UncertaintyTaskKind.Regression, UncertaintyTaskKind.Classification], -0.2),
        "dwa" => new DynamicWeightAverage(),
        "gradnorm" => new GradNorm(layer, TaskCount),
        "famo" => new FAMO(),
        "gls" => new GeometricLossStrategy(),
        "stch" => new SmoothTchebycheff(0.7, preference: [0.2, 0.5, 0.3], idealPoint: [0.1, 0.0, -0.2]),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>Losses that depend on <paramref name="layer"/> (GradNorm needs them connected), plus leaves to read ∂/∂L_i from.</summary>
    private static (Tensor[] Losses, Tensor[] Leaves) ConnectedLosses(Parameter layer, double[] values)
    {
        var leaves = Leaves(values);
        // L_i = leaf_i·(1 + 0·layer_i) + (layer_i − layer_i.detach())·(i + 1): its value is the leaf's, ∂L_i/∂leaf_i = 1,
        // and ∂L_i/∂layer_i = i + 1, so GradNorm sees distinct non-zero gradient norms.
        Tensor[] losses = [.. leaves.Select((leaf, i) => leaf * (1.0 + layer[i] * 0.0) + (layer[i] - layer[i].detach()) * (i + 1.0))];
        return (losses, leaves);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void LastWeightsAreTheObjectivesDerivativeWithRespectToEachLoss(string name)
    {
        using var scope = NewDisposeScope();
        var layer = new Parameter(ones(TaskCount, dtype: ScalarType.Float64));
        var weighting = Create(name, layer);
        Assert.Empty(weighting.LastWeights);
        var (losses, leaves) = ConnectedLosses(layer, [0.8, 2.5, 0.3]);
        var objective = weighting.Combine(losses);
        Assert.Equal(0, objective.dim());
        objective.backward();
        Assert.Equal(weighting.LastWeights, Gradients(leaves), new ToleranceComparer(1e-6));
        Assert.All(weighting.LastWeights, w => Assert.True(double.IsFinite(w)));
        // LastWeights is a copy.
        weighting.LastWeights[0] = 123.0;
        Assert.NotEqual(123.0, weighting.LastWeights[0]);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void BadLossListsNameTheCulprit(string name)
    {
        using var scope = NewDisposeScope();
        var layer = new Parameter(ones(TaskCount, dtype: ScalarType.Float64));
        var weighting = Create(name, layer);
        var (good, _) = ConnectedLosses(layer, [1.0, 2.0, 3.0]);

        Assert.Throws<ArgumentNullException>(() => weighting.Combine(null!));
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => weighting.Combine([])).Message);
        Assert.Contains("task 1 is null", Assert.Throws<ArgumentException>(() => weighting.Combine([good[0], null!, good[2]])).Message);
        var nonScalar = Assert.Throws<ArgumentException>(() => weighting.Combine([good[0], good[1], ones(2, 2)]));
        Assert.Contains("task 2 is not a scalar", nonScalar.Message);
        Assert.Contains("[2, 2]", nonScalar.Message);
        Assert.Contains("task 0", Assert.Throws<ArgumentException>(() => weighting.Combine([tensor(1L), good[1], good[2]])).Message);
        Assert.Contains("task 1 is NaN", Assert.Throws<ArithmeticException>(() => weighting.Combine([good[0], good[1] * double.NaN, good[2]])).Message);
        Assert.Contains("task 2", Assert.Throws<ArithmeticException>(() => weighting.Combine([good[0], good[1], good[2] / 0.0])).Message);
        Assert.Empty(weighting.LastWeights);

        // Nothing above changed the state: a valid call still works.
        weighting.Combine(good);
        Assert.Equal(TaskCount, weighting.LastWeights.Length);
    }
}
