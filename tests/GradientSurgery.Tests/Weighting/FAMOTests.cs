using GradientSurgery.Weighting;
using static GradientSurgery.Tests.Weighting.WeightingTestHelpers;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Weighting;

public sealed class FAMOTests
{
    // The worked example: ξ = 0, ℓ = (1, 4) before the step and (0.5, 3.2) after it.
    // z = (½, ½); c = 1/(½/1 + ½/4) = 1.6; the step weights c z_i/ℓ_i = (0.8, 0.2); objective c Σ z_i log ℓ_i = 0.8 ln 4.
    // δ = (ln 1 − ln 0.5, ln 4 − ln 3.2) = (ln 2, ln 1.25) = (0.6931472, 0.2231436); Σ z δ = 0.4581454;
    // ∇_ξ zᵀδ = z_j(δ_j − Σ z δ) = (0.1175009, −0.1175009).
    private const double Gradient = 0.11750090731143389;

    private static void Step(FAMO famo, double[] before, double[] after)
    {
        using var scope = NewDisposeScope();
        famo.Combine(Leaves(before));
        famo.Update(Leaves(after));
    }

    [Fact]
    public void WorkedExampleObjectiveAndWeights()
    {
        using var scope = NewDisposeScope();
        var famo = new FAMO();
        var losses = Leaves(1.0, 4.0);
        var objective = famo.Combine(losses);
        objective.backward();
        Assert.Equal(0.8 * Math.Log(4.0), objective.item<double>(), 14);
        Assert.Equal(new[] { 0.8, 0.2 }, famo.LastWeights, new ToleranceComparer(1e-15));
        Assert.Equal(new[] { 0.8, 0.2 }, Gradients(losses), new ToleranceComparer(1e-15));
    }

    [Fact]
    public void WorkedExampleAlgorithm1Update()
    {
        var famo = new FAMO(update: FamoLogitUpdate.GradientDescent);
        Step(famo, [1.0, 4.0], [0.5, 3.2]);
        // ξ = 0 − 0.025·(∇_ξ zᵀδ + 0.001·0): the task that improved less (task 2) gains weight.
        Assert.Equal(new[] { -0.025 * Gradient, 0.025 * Gradient }, famo.Logits, new ToleranceComparer(1e-16));
        Assert.True(famo.TaskWeights[1] > 0.5);
        Assert.Equal(new[] { Gradient, -Gradient }, FAMO.LogitGradient([0.0, 0.0], [Math.Log(2.0), Math.Log(1.25)]), new ToleranceComparer(1e-16));
    }

    [Fact]
    public void DecayPullsTheLogitsBackWhenNoLossMoves()
    {
        var famo = new FAMO(update: FamoLogitUpdate.GradientDescent);
        Step(famo, [1.0, 4.0], [0.5, 3.2]);
        var before = famo.Logits;
        // δ = 0, so the step is −β γ ξ: ξ ← ξ (1 − 0.025·0.001).
        Step(famo, [2.0, 2.0], [2.0, 2.0]);
        Assert.Equal(before.Select(x => x * (1 - 0.025 * 0.001)), famo.Logits, new ToleranceComparer(1e-18));
    }

    [Fact]
    public void WorkedExampleAdamUpdate()
    {
        var famo = new FAMO();
        Step(famo, [1.0, 4.0], [0.5, 3.2]);
        // First Adam step: m̂ = g, v̂ = g², so ξ = −β g/(|g| + 1e-8) = ∓0.025·(1 − 8.5e-8).
        var expected = 0.025 * Gradient / (Gradient + 1e-8);
        Assert.Equal(new[] { -expected, expected }, famo.Logits, new ToleranceComparer(1e-16));

        // Second step with the same δ: z is now softmax(−0.025, 0.025), g' = z(δ − zδ) + γξ, m = 0.9·0.1g + 0.1g',
        // v = 0.999·0.001g² + 0.001g'², bias corrections 1 − 0.9² and 1 − 0.999².
        var z1 = 1 / (1 + Math.Exp(2 * expected));
        var z = new[] { z1, 1 - z1 };
        var delta = new[] { Math.Log(2.0), Math.Log(1.25) };
        var mean = z[0] * delta[0] + z[1] * delta[1];
        var xi = new[] { -expected, expected };
        var g = new[] { Gradient, -Gradient };
        var next = new double[2];
        for (var j = 0; j < 2; j++)
        {
            var g2 = z[j] * (delta[j] - mean) + 0.001 * xi[j];
            var m = 0.9 * 0.1 * g[j] + 0.1 * g2;
            var v = 0.999 * 0.001 * g[j] * g[j] + 0.001 * g2 * g2;
            next[j] = xi[j] - 0.025 / (1 - 0.81) * m / (Math.Sqrt(v) / Math.Sqrt(1 - 0.999 * 0.999) + 1e-8);
        }
        Step(famo, [1.0, 4.0], [0.5, 3.2]);
        Assert.Equal(next, famo.Logits, new ToleranceComparer(1e-15));
    }

    [Fact]
    public void StepWeightsAreAConvexCombinationAndMatchTheGradient()
    {
        var random = new Random(11);
        var famo = new FAMO();
        for (var step = 0; step < 10; step++)
        {
            using var scope = NewDisposeScope();
            var before = Enumerable.Range(0, 6).Select(_ => Math.Exp(random.NextDouble() * 6 - 3)).ToArray();
            var losses = Leaves(before);
            famo.Combine(losses).backward();
            Assert.Equal(1.0, famo.LastWeights.Sum(), 13);
            Assert.Equal(famo.LastWeights, Gradients(losses), new ToleranceComparer(1e-13));
            famo.Update(Leaves([.. before.Select(l => l * (0.5 + random.NextDouble()))]));
        }
    }

    [Fact]
    public void LowerBoundsShiftTheLosses()
    {
        using var scope = NewDisposeScope();
        var famo = new FAMO(update: FamoLogitUpdate.GradientDescent, lowerBounds: [0.5, 0.5]);
        // ℓ − b = (1, 4): the worked example again.
        var objective = famo.Combine(Leaves(1.5, 4.5));
        Assert.Equal(0.8 * Math.Log(4.0), objective.item<double>(), 14);
        famo.Update(Leaves(1.0, 3.7));
        Assert.Equal(new[] { -0.025 * Gradient, 0.025 * Gradient }, famo.Logits, new ToleranceComparer(1e-15));
        Assert.Contains("task 0", Assert.Throws<ArgumentException>(() => famo.Combine(Leaves(0.5, 1.0))).Message);
    }

    [Fact]
    public void FeedbackProtocolIsEnforced()
    {
        using var scope = NewDisposeScope();
        var famo = new FAMO();
        Assert.Throws<InvalidOperationException>(() => famo.Update(Leaves(1.0, 1.0)));
        famo.Combine(Leaves(1.0, 2.0));
        Assert.True(famo.AwaitingFeedback);
        Assert.Contains("before Update", Assert.Throws<InvalidOperationException>(() => famo.Combine(Leaves(1.0, 2.0))).Message);
        Assert.Contains("set up for 2 tasks", Assert.Throws<ArgumentException>(() => famo.Update(Leaves(1.0))).Message);
        famo.Update(Leaves(0.9, 2.0));
        Assert.False(famo.AwaitingFeedback);
        Assert.Throws<InvalidOperationException>(() => famo.Update(Leaves(0.9, 2.0)));
    }

    [Fact]
    public void RestoredStateContinuesIdentically()
    {
        var random = new Random(2);
        double[] Draw() => [.. Enumerable.Range(0, 3).Select(_ => 0.1 + random.NextDouble())];
        var original = new FAMO(decay: 0.01);
        for (var step = 0; step < 4; step++)
        {
            Step(original, Draw(), Draw());
        }
        using (NewDisposeScope())
        {
            original.Combine(Leaves(0.5, 0.6, 0.7)); // saved while awaiting its feedback
        }
        using var stream = Save(original);
        var restored = new FAMO(decay: 0.01);
        Load(restored, stream);
        Assert.True(restored.AwaitingFeedback);
        using (NewDisposeScope())
        {
            original.Update(Leaves(0.4, 0.6, 0.9));
            restored.Update(Leaves(0.4, 0.6, 0.9));
        }
        for (var step = 0; step < 3; step++)
        {
            var before = Draw();
            var after = Draw();
            Step(original, before, after);
            Step(restored, before, after);
            Assert.Equal(original.Logits, restored.Logits);
            Assert.Equal(original.LastWeights, restored.LastWeights);
        }
    }

    [Fact]
    public void BadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FAMO(logitLearningRate: 0.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FAMO(decay: -1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FAMO(update: (FamoLogitUpdate)9));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FAMO(lowerBounds: [double.NaN]));
        Assert.Throws<ArgumentException>(() => new FAMO(lowerBounds: []));

        using var scope = NewDisposeScope();
        var famo = new FAMO();
        Assert.Contains("task 1", Assert.Throws<ArgumentException>(() => famo.Combine(Leaves(1.0, 0.0))).Message);
        Assert.Contains("task 0", Assert.Throws<ArithmeticException>(() => famo.Combine(Leaves(double.PositiveInfinity, 1.0))).Message);
        Assert.Contains("3 lower bounds", Assert.Throws<ArgumentException>(() => new FAMO(lowerBounds: [0.0, 0.0, 0.0]).Combine(Leaves(1.0, 1.0))).Message);
        famo.Combine(Leaves(1.0, 2.0));
        Assert.Contains("task 1", Assert.Throws<ArgumentException>(() => famo.Update(Leaves(1.0, -2.0))).Message);

        using var foreign = Save(new OtherMethodState());
        Assert.Throws<InvalidDataException>(() => Load(famo, foreign));
    }

    /// <summary>Any other method's state.</summary>
    private sealed class OtherMethodState : IStateful
    {
        public void SaveState(BinaryWriter writer) => writer.Write("Other/1");

        public void LoadState(BinaryReader reader) => throw new NotSupportedException();
    }
}
