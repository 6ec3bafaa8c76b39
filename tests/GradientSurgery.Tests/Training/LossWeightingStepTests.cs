using GradientSurgery.Training;
using GradientSurgery.Weighting;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Training;

public sealed class LossWeightingStepTests
{
    private static Parameter LastLayer(TinyMultiTaskModel model) => model.Trunk.children().OfType<Linear>().Last().weight!;

    private static ILossWeighting Create(string name, TinyMultiTaskModel model) =>
        MethodCatalog.CreateLossWeighting(name, seed: 0, new LossWeightingContext(model.Heads.Length, Dtype: ScalarType.Float64, SharedLayerWeight: LastLayer(model)));

    private static IEnumerable<Parameter> Learnable(ILossWeighting weighting) => (weighting as ILearnableLossWeighting)?.parameters() ?? [];

    private static double[][] Values(TinyMultiTaskModel model) => [.. model.All.Select(p => p.data<double>().ToArray())];

    [Theory]
    [InlineData("famo")]
    [InlineData("uw")]
    [InlineData("gradnorm")]
    public void DoesWhatTheInterfacesRemarksPrescribe(string name)
    {
        // The same model and weighting twice: once through the optimizer, once through the loop written out in
        // ILossWeighting's remarks. Every operation is the same, so the parameters must agree to the bit.
        using var ours = new TinyMultiTaskModel(tasks: 3, seed: 8);
        using var reference = new TinyMultiTaskModel(tasks: 3, seed: 8);
        var weighting = Create(name, ours);
        var referenceWeighting = Create(name, reference);
        var optimizer = new LossWeightingStep(optim.Adam(ours.All.Concat(Learnable(weighting)), 0.01), weighting);
        var referenceAdam = optim.Adam(reference.All.Concat(Learnable(referenceWeighting)), 0.01);
        for (var step = 0; step < 15; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.Step(ours.Losses(), () => ours.Losses());

            var objective = referenceWeighting.Combine(reference.Losses());
            referenceAdam.zero_grad();
            objective.backward();
            referenceAdam.step();
            if (referenceWeighting is IFeedbackLossWeighting feedback)
            {
                using (no_grad())
                {
                    feedback.Update(reference.Losses());
                }
            }
        }
        Assert.Equal(Values(reference), Values(ours));
        Assert.Equal(referenceWeighting.LastWeights, weighting.LastWeights);
    }

    /// <summary>
    /// Non-finite gradients stop the step before any parameter moves (an ArithmeticException, the promise the trainer
    /// relies on to checkpoint the state before the batch); non-finite losses after the step are another exception,
    /// since the step was already taken.
    /// </summary>
    [Fact]
    public void NonFiniteGradientsChangeNothingAndLossesAfterTheStepSaySo()
    {
        using var model = new TinyMultiTaskModel(tasks: 2, seed: 4);
        using var scope = NewDisposeScope();
        var weighting = Create("famo", model);
        var optimizer = new LossWeightingStep(optim.Adam(model.All.Concat(Learnable(weighting)), 0.01), weighting);
        var before = Values(model);
        // √|f − f| adds 0 to the loss, but its derivative at 0 is Inf · 0 = NaN.
        Tensor[] Poisoned() => [.. model.Losses().Select(l => l + (l - l.detach()).abs().sqrt())];
        var error = Assert.Throws<ArithmeticException>(() => optimizer.Step(Poisoned(), () => model.Losses()));
        Assert.Contains("contains NaN or Inf; no parameter was changed", error.Message);
        Assert.Contains("docs/troubleshooting.md", error.Message);
        Assert.Equal(before, Values(model));
        Assert.All(model.All, p => Assert.True(p.grad is null || p.grad.IsInvalid || p.grad.abs().sum().item<double>() == 0));

        var diverged = Assert.Throws<InvalidOperationException>(() => optimizer.Step(model.Losses(), () => [.. model.Losses().Select(l => l * double.NaN)]));
        Assert.StartsWith("The step was taken, but the losses recomputed after it cannot feed FAMO's update: The loss of task 0 is NaN", diverged.Message);
    }

    [Fact]
    public void TheReportHoldsTheLossesWeightsAndObjective()
    {
        using var model = new TinyMultiTaskModel(tasks: 2, seed: 9);
        using var scope = NewDisposeScope();
        var weighting = new GeometricLossStrategy();
        var optimizer = new LossWeightingStep(optim.Adam(model.All, 0.01), weighting);
        var losses = model.Losses();
        var values = losses.Select(l => l.item<double>()).ToArray();

        var report = optimizer.Step(losses);

        Assert.Equal(values, report.Losses);
        Assert.Equal(weighting.LastWeights, report.Weights);
        Assert.Equal(Math.Sqrt(values[0] * values[1]), report.Objective!.Value, 12);
    }

    [Fact]
    public void FeedbackWithoutARecomputationIsRefusedBeforeAnythingChanges()
    {
        using var model = new TinyMultiTaskModel(tasks: 2, seed: 10);
        using var scope = NewDisposeScope();
        var famo = new FAMO();
        var optimizer = new LossWeightingStep(optim.Adam(model.All, 0.01), famo);
        var before = Values(model);

        var error = Assert.Throws<ArgumentException>(() => optimizer.Step(model.Losses()));

        Assert.Contains("recomputes", error.Message);
        Assert.True(optimizer.NeedsLossesAfterStep);
        Assert.False(famo.AwaitingFeedback);
        Assert.Empty(famo.Logits);
        Assert.Equal(before, Values(model));
    }

    [Fact]
    public void FamoReceivesTheLossesAfterTheStep()
    {
        using var model = new TinyMultiTaskModel(tasks: 2, seed: 11);
        using var scope = NewDisposeScope();
        var famo = new FAMO();
        var optimizer = new LossWeightingStep(optim.Adam(model.All, 0.01), famo);
        double[]? after = null;

        var report = optimizer.Step(model.Losses(), () =>
        {
            var losses = model.Losses();
            Assert.False(losses[0].requires_grad);
            after = [.. losses.Select(l => l.item<double>())];
            return losses;
        });

        Assert.NotNull(after);
        Assert.NotEqual(report.Losses, after);
        Assert.False(famo.AwaitingFeedback);
        // With two tasks and ξ = 0 the logit gradient is ±¼(δ0 − δ1), and Adam's bias-corrected first step moves
        // each logit by at most β in opposite directions.
        var logits = famo.Logits;
        Assert.Equal(-logits[0], logits[1], 12);
        Assert.InRange(Math.Abs(logits[0]), 1e-6, 0.025);
    }

    [Fact]
    public void LearnableWeightsOutsideTheOptimizerAreRefused()
    {
        using var model = new TinyMultiTaskModel(tasks: 2, seed: 12);
        var weighting = Create("uw", model);
        var error = Assert.Throws<ArgumentException>(() => new LossWeightingStep(optim.Adam(model.All, 0.01), weighting));
        Assert.Contains("parameters()", error.Message);
    }

    [Fact]
    public void EndEpochReachesOnlyEpochAwareWeightings()
    {
        using var model = new TinyMultiTaskModel(tasks: 2, seed: 13);
        using var scope = NewDisposeScope();
        var dwa = new DynamicWeightAverage();
        var optimizer = new LossWeightingStep(optim.Adam(model.All, 0.01), dwa);
        optimizer.Step(model.Losses());
        optimizer.EndEpoch();
        Assert.Equal(1, dwa.CompletedEpochs);
        // DWA refuses an epoch without steps: the boundary must come from the caller, once per epoch.
        Assert.Throws<InvalidOperationException>(optimizer.EndEpoch);

        var gls = new LossWeightingStep(optim.Adam(model.All, 0.01), new GeometricLossStrategy());
        gls.EndEpoch();
    }
}
