using GradientSurgery.Weighting;
using static GradientSurgery.Tests.Weighting.WeightingTestHelpers;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Weighting;

public sealed class DynamicWeightAverageTests
{
    /// <summary>Runs one epoch of the given batch losses, returning the weights each step used.</summary>
    private static List<double[]> Epoch(DynamicWeightAverage dwa, params double[][] batches)
    {
        var used = new List<double[]>();
        foreach (var batch in batches)
        {
            using var scope = NewDisposeScope();
            dwa.Combine(Leaves(batch));
            used.Add(dwa.LastWeights);
        }
        dwa.EndEpoch();
        return used;
    }

    [Fact]
    public void WorkedExampleFromAHandComputedLossHistory()
    {
        var dwa = new DynamicWeightAverage();
        // Epoch 1 averages (1.0, 2.0); epoch 2 averages (0.5, 1.8); both epochs use λ = 1.
        Assert.All(Epoch(dwa, [1.2, 2.2], [0.8, 1.8]), w => Assert.Equal(new[] { 1.0, 1.0 }, w));
        Assert.All(Epoch(dwa, [0.6, 1.7], [0.4, 1.9]), w => Assert.Equal(new[] { 1.0, 1.0 }, w));

        // Epoch 3: w = (0.5/1.0, 1.8/2.0) = (0.5, 0.9); λ = 2·softmax(w/2) = 2·(e^0.25, e^0.45)/(e^0.25 + e^0.45)
        //        = 2·(1.2840254, 1.5683122)/2.8523376 = (0.9003320, 1.0996680): the slower task 2 gains weight.
        using var scope = NewDisposeScope();
        var losses = Leaves(0.3, 1.5);
        var objective = dwa.Combine(losses);
        objective.backward();
        var expected = new[] { 0.900332005375044, 1.099667994624956 };
        Assert.Equal(expected, dwa.LastWeights, new ToleranceComparer(1e-14));
        Assert.Equal(expected, Gradients(losses), new ToleranceComparer(1e-14));
        Assert.Equal(0.3 * expected[0] + 1.5 * expected[1], objective.item<double>(), 13);
    }

    [Fact]
    public void WeightsAreFixedWithinAnEpochSumToKAndFollowTheRatioFormula()
    {
        var random = new Random(3);
        var dwa = new DynamicWeightAverage(temperature: 1.5);
        var history = new List<double[]>();
        for (var epoch = 0; epoch < 6; epoch++)
        {
            var batches = Enumerable.Range(0, 4).Select(_ => Enumerable.Range(0, 5).Select(_ => random.NextDouble() * 3).ToArray()).ToArray();
            var used = Epoch(dwa, batches);
            Assert.All(used, w => Assert.Equal(used[0], w));
            Assert.Equal(5.0, used[0].Sum(), 12);
            if (epoch >= 2)
            {
                var previous = history[epoch - 1];
                var before = history[epoch - 2];
                var rates = previous.Select((l, k) => l / before[k]).ToArray();
                var exponentials = rates.Select(r => Math.Exp(r / 1.5)).ToArray();
                Assert.Equal(exponentials.Select(e => 5 * e / exponentials.Sum()), used[0], new ToleranceComparer(1e-12));
            }
            history.Add([.. Enumerable.Range(0, 5).Select(k => batches.Average(b => b[k]))]);
        }
    }

    [Fact]
    public void HighTemperatureGivesUniformWeights()
    {
        var weights = DynamicWeightAverage.WeightsFromAverages([0.1, 5.0, 1.0], [1.0, 1.0, 1.0], 1e9);
        Assert.Equal(new[] { 1.0, 1.0, 1.0 }, weights, new ToleranceComparer(1e-8));
    }

    [Fact]
    public void ZeroDenominatorsUseTheLimits()
    {
        // 0/0 counts as no change (rate 1); x/0 is +∞ and takes all of the weight K.
        Assert.Equal(DynamicWeightAverage.WeightsFromAverages([1.0, 1.0], [1.0, 1.0], 2.0), DynamicWeightAverage.WeightsFromAverages([0.0, 1.0], [0.0, 1.0], 2.0));
        Assert.Equal(new[] { 0.0, 3.0, 0.0 }, DynamicWeightAverage.WeightsFromAverages([0.5, 0.2, 0.1], [1.0, 0.0, 1.0], 2.0));
        Assert.Equal(new[] { 1.5, 1.5, 0.0 }, DynamicWeightAverage.WeightsFromAverages([0.5, 0.2, 0.1], [0.0, 0.0, 1.0], 2.0));
        // A huge growth does not overflow the softmax.
        var extreme = DynamicWeightAverage.WeightsFromAverages([1e300, 1.0], [1e-10, 1.0], 2.0);
        Assert.Equal(new[] { 2.0, 0.0 }, extreme);
    }

    [Fact]
    public void RestoredStateContinuesIdentically()
    {
        var original = new DynamicWeightAverage();
        Epoch(original, [1.0, 2.0, 3.0]);
        Epoch(original, [0.9, 1.0, 2.9]);
        using (NewDisposeScope())
        {
            original.Combine(Leaves(0.5, 0.5, 2.0)); // mid-epoch
        }
        using var stream = Save(original);
        var restored = new DynamicWeightAverage();
        Load(restored, stream);

        Assert.Equal(original.CompletedEpochs, restored.CompletedEpochs);
        Assert.Equal(original.CurrentWeights, restored.CurrentWeights);
        Assert.Equal(Epoch(original, [0.4, 0.6, 1.0]), Epoch(restored, [0.4, 0.6, 1.0]));
        Assert.Equal(Epoch(original, [0.3, 0.6, 1.0]), Epoch(restored, [0.3, 0.6, 1.0]));
        Assert.Equal(original.CurrentWeights, restored.CurrentWeights);

        // A fresh state round-trips too.
        var fresh = new DynamicWeightAverage();
        using var empty = Save(fresh);
        Load(restored, empty);
        Assert.Null(restored.CurrentWeights);
    }

    [Fact]
    public void ForeignStateIsRefused()
    {
        using var stream = Save(new UncertaintyWeighting(2));
        Assert.Throws<InvalidDataException>(() => Load(new DynamicWeightAverage(), stream));
    }

    [Fact]
    public void BadArgumentsAndMisuse()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicWeightAverage(0.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicWeightAverage(double.PositiveInfinity));

        var dwa = new DynamicWeightAverage();
        Assert.Contains("without any Combine", Assert.Throws<InvalidOperationException>(dwa.EndEpoch).Message);
        using var scope = NewDisposeScope();
        Assert.Contains("task 1", Assert.Throws<ArgumentException>(() => dwa.Combine(Leaves(1.0, -0.5))).Message);
        dwa.Combine(Leaves(1.0, 2.0));
        Assert.Contains("set up for 2 tasks", Assert.Throws<ArgumentException>(() => dwa.Combine(Leaves(1.0, 2.0, 3.0))).Message);
        Assert.Throws<ArgumentException>(() => DynamicWeightAverage.WeightsFromAverages([1.0], [1.0, 2.0], 2.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DynamicWeightAverage.WeightsFromAverages([-1.0], [1.0], 2.0));
    }
}
