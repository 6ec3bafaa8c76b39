using GradientSurgery.Experiments.Synthetic;
using GradientSurgery.Weighting;

namespace GradientSurgery.Tests.Experiments;

public sealed class SyntheticTests
{
    // 256 examples in batches of 64: an epoch is 4 steps, so DWA reweighs from step 9 on.
    private static readonly SyntheticConfig Small = new(Tasks: 3, TrainSize: 256, TestSize: 128, Steps: 40, BatchSize: 64, EvaluateEvery: 20);

    public static TheoryData<string> Names => [.. MethodCatalog.NamesOf(MethodKind.LossWeighting)];

    [Theory]
    [MemberData(nameof(Names))]
    public void EveryLossWeightingTrainsTheSyntheticModel(string method)
    {
        var records = SyntheticBenchmark.Run(Small, method, seed: 3);
        Assert.Equal([20, 40], records.Select(r => r.Step));
        Assert.All(records, r => Assert.All(r.TrainLoss.Concat(r.TestLoss), l => Assert.True(double.IsFinite(l), $"{method}: loss {l}")));
        // No per-task gradients are formed, so no conflict statistic is claimed.
        Assert.All(records, r => Assert.True(double.IsNaN(r.ConflictFraction) && double.IsNaN(r.MeanCosine) && double.IsNaN(r.MagnitudeSimilarity) && double.IsNaN(r.Curvature)));
        Assert.Equal(records.Select(r => r.TestLoss), SyntheticBenchmark.Run(Small, method, seed: 3).Select(r => r.TestLoss));
    }

    [Fact]
    public void AggregatorsStillMeasureConflicts()
    {
        var records = SyntheticBenchmark.Run(Small, "mean", seed: 3);
        Assert.All(records, r => Assert.InRange(r.MeanCosine, -1, 1));
    }

    [Fact]
    public void UnknownMethodsAreRefusedBeforeAnyWork()
    {
        var error = Assert.Throws<ArgumentException>(() => SyntheticBenchmark.Run(Small, "nosuch", seed: 3));
        Assert.Contains("loss weightings", error.Message);
    }
}
