using GradientSurgery.Weighting;
using TorchSharp;
using TorchSharp.Modules;
using static GradientSurgery.Tests.Weighting.WeightingTestHelpers;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Weighting;

public sealed class GradNormTests
{
    /// <summary>W = (1, 1), a shared "layer" with known task gradients.</summary>
    private static Parameter Layer() => new(tensor(new[] { 1.0, 1.0 }, dtype: ScalarType.Float64));

    /// <summary>
    /// L₁ = scale·(3W₀ + 4W₁) with ∇_W L₁ = scale·(3, 4), ‖·‖ = 5·scale; L₂ = W₀ with ∇_W L₂ = (1, 0), ‖·‖ = 1.
    /// At W = (1, 1): L₁ = 7·scale, L₂ = 1.
    /// </summary>
    private static Tensor[] Losses(Parameter w, double scale = 1.0) =>
        [(w * tensor(new[] { 3.0, 4.0 }, dtype: ScalarType.Float64)).sum() * scale, w[0] * 1.0];

    private static void SetWeights(GradNorm gradNorm, params double[] values)
    {
        using (no_grad())
        {
            gradNorm.TaskWeights.copy_(tensor(values, dtype: ScalarType.Float64));
        }
    }

    [Fact]
    public void WorkedExampleFirstStep()
    {
        using var scope = NewDisposeScope();
        var layer = Layer();
        var gradNorm = new GradNorm(layer, taskCount: 2, alpha: 1.5);

        var objective = gradNorm.Combine(Losses(layer));
        objective.backward();

        // L(0) = (7, 1), so L̃ = (1, 1) and r = (1, 1). w = (1, 1): G = (5, 1), Ḡ = 3, targets Ḡ·1^α = (3, 3).
        // L_grad = |5 − 3| + |1 − 3| = 4; ∂L_grad/∂w = (sign(2)·5, sign(−2)·1) = (5, −1).
        Assert.Equal(new[] { 7.0, 1.0 }, gradNorm.InitialLosses);
        Assert.Equal(new[] { 5.0, 1.0 }, gradNorm.LastGradientNorms, new ToleranceComparer(1e-14));
        Assert.Equal(4.0, gradNorm.LastGradNormLoss, 13);
        Assert.Equal(new[] { 1.0, 1.0 }, gradNorm.LastWeights);
        // The objective's value is L = Σ w_i L_i = 8; the network gets Σ w_i ∇L_i = (3, 4) + (1, 0); w gets ∇L_grad.
        Assert.Equal(8.0, objective.item<double>(), 14);
        Assert.Equal(new[] { 4.0, 4.0 }, layer.grad!.data<double>().ToArray());
        Assert.Equal(new[] { 5.0, -1.0 }, gradNorm.TaskWeights.grad!.data<double>().ToArray());
    }

    [Fact]
    public void WorkedExampleSecondStepRenormalisesAndUsesTheTrainingRates()
    {
        using var scope = NewDisposeScope();
        var layer = Layer();
        var gradNorm = new GradNorm(layer, taskCount: 2, alpha: 1.5);
        var optimizer = optim.SGD(gradNorm.parameters(), 0.1);
        gradNorm.Combine(Losses(layer)).backward();
        optimizer.step(); // w = (1, 1) − 0.1·(5, −1) = (0.5, 1.1)
        optimizer.zero_grad();

        gradNorm.Combine(Losses(layer, scale: 0.5)).backward();

        // Renormalised to sum 2: (0.5, 1.1)·2/1.6 = (0.625, 1.375).
        Assert.Equal(new[] { 0.625, 1.375 }, gradNorm.LastWeights, new ToleranceComparer(1e-14));
        // L = (3.5, 1): L̃ = (0.5, 1), r = L̃/0.75 = (2/3, 4/3). Norms (2.5, 1): G = (1.5625, 1.375), Ḡ = 1.46875.
        // Targets Ḡ·r^1.5 = (0.7994862, 2.2612886); L_grad = 0.7630138 + 0.8862886 = 1.6493023; ∂/∂w = (+2.5, −1).
        Assert.Equal(1.6493023188343021, gradNorm.LastGradNormLoss, 12);
        Assert.Equal(new[] { 2.5, -1.0 }, gradNorm.TaskWeights.grad!.data<double>().ToArray(), new ToleranceComparer(1e-14));
    }

    /// <summary>Trains only the weights (W stays fixed, so the losses never change), checking Σ w = T at every step.</summary>
    private static List<double> TrainWeights(GradNorm gradNorm, Parameter layer, double learningRate, int steps)
    {
        var optimizer = optim.SGD(gradNorm.parameters(), learningRate);
        var gaps = new List<double>();
        for (var step = 0; step < steps; step++)
        {
            using var inner = NewDisposeScope();
            optimizer.zero_grad();
            gradNorm.Combine(Losses(layer)).backward();
            optimizer.step();
            Assert.Equal(2.0, gradNorm.LastWeights.Sum(), 12);
            gaps.Add(gradNorm.LastGradNormLoss);
        }
        return gaps;
    }

    [Fact]
    public void WeightsMoveTowardTheTargetAndAlwaysSumToT()
    {
        using var scope = NewDisposeScope();
        var layer = Layer();
        var gradNorm = new GradNorm(layer, taskCount: 2, alpha: 1.5);
        var gaps = TrainWeights(gradNorm, layer, 0.001, 400);
        // r = (1, 1), so the target equalises the weighted norms: 5w₁ = w₂ with w₁ + w₂ = 2, i.e. w = (1/3, 5/3).
        // The sign-based steps leave an oscillation of about lr·‖∇L_i‖.
        var weights = gradNorm.LastWeights;
        Assert.Equal(1.0 / 3.0, weights[0], 1e-2);
        Assert.Equal(5.0 / 3.0, weights[1], 1e-2);
        Assert.True(gaps[^1] < 0.05 * gaps[0], $"L_grad went from {gaps[0]} to {gaps[^1]}.");
    }

    [Fact]
    public void AlphaSkewsTheTargetTowardTheSlowerTask()
    {
        using var scope = NewDisposeScope();
        var layer = Layer();
        // L(0) = (14, 1): task 1 is at half its initial loss, task 2 has not moved: L̃ = (0.5, 1), r = (2/3, 4/3),
        // and with α = 2 the targets are Ḡ·(4/9, 16/9). With w = (x, 2 − x): G = (5x, 2 − x), Ḡ = 2x + 1.
        // Both targets cannot be met (4/9 + 16/9 ≠ 2): task 1's gap 5x − (2x + 1)·4/9 changes sign at x = 4/37,
        // where the sign-based updates settle, far below the x = 1/3 of α = 0: the slower task 2 gets the weight.
        var gradNorm = new GradNorm(layer, taskCount: 2, alpha: 2.0, initialLosses: [14.0, 1.0]);
        TrainWeights(gradNorm, layer, 0.0005, 600);
        var weights = gradNorm.LastWeights;
        Assert.Equal(4.0 / 37.0, weights[0], 5e-3);
        Assert.Equal(70.0 / 37.0, weights[1], 5e-3);
    }

    [Fact]
    public void NonPositiveWeightIsRaisedToTheFloorBeforeRenormalising()
    {
        using var scope = NewDisposeScope();
        var layer = Layer();
        var gradNorm = new GradNorm(layer, taskCount: 2);
        SetWeights(gradNorm, -1.0, 3.0);
        gradNorm.Combine(Losses(layer));
        var weights = gradNorm.LastWeights;
        Assert.Equal(2.0, weights.Sum(), 12);
        Assert.True(weights[0] > 0.0 && weights[0] < 1e-5);
        Assert.Equal(weights, gradNorm.TaskWeights.data<double>().ToArray());
    }

    [Fact]
    public void RestoredStateContinuesIdentically()
    {
        using var scope = NewDisposeScope();
        var layer = Layer();
        var original = new GradNorm(layer, taskCount: 2);
        var optimizer = optim.SGD(original.parameters(), 0.05);
        for (var step = 0; step < 3; step++)
        {
            optimizer.zero_grad();
            original.Combine(Losses(layer, scale: 1.0 - 0.1 * step)).backward();
            optimizer.step();
        }
        using var stream = Save(original);
        var restored = new GradNorm(layer, taskCount: 2);
        Load(restored, stream);
        Assert.Equal(original.InitialLosses, restored.InitialLosses);

        var a = original.Combine(Losses(layer, scale: 0.6));
        var b = restored.Combine(Losses(layer, scale: 0.6));
        Assert.Equal(a.item<double>(), b.item<double>());
        Assert.Equal(original.LastWeights, restored.LastWeights);
        Assert.Equal(original.LastGradNormLoss, restored.LastGradNormLoss);
    }

    [Fact]
    public void BadArguments()
    {
        using var scope = NewDisposeScope();
        var layer = Layer();
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradNorm(layer, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradNorm(layer, 2, alpha: -1.0));
        Assert.Throws<ArgumentException>(() => new GradNorm(layer, 2, initialLosses: [1.0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradNorm(layer, 2, initialLosses: [1.0, 0.0]));
        Assert.Throws<ArgumentException>(() => new GradNorm(new Parameter(ones(2), requires_grad: false), 2));

        var gradNorm = new GradNorm(layer, 2);
        Assert.Contains("does not require grad", Assert.Throws<ArgumentException>(() => gradNorm.Combine(Leaves(1.0, 2.0).Select(l => l.detach()).ToArray())).Message);
        Assert.Contains("task 1", Assert.Throws<ArgumentException>(() => gradNorm.Combine([Losses(layer)[0], layer[0] * -1.0])).Message);
        Assert.Contains("L_i(0)", Assert.Throws<ArgumentException>(() => gradNorm.Combine([Losses(layer)[0], layer[0] * 0.0])).Message);
        Assert.Contains("set up for 2 tasks", Assert.Throws<ArgumentException>(() => gradNorm.Combine([layer[0] * 1.0])).Message);

        using var foreign = Save(new DynamicWeightAverage());
        Assert.Throws<InvalidDataException>(() => Load(gradNorm, foreign));
    }
}
