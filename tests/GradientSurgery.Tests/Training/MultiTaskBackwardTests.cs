using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Training;

public sealed class MultiTaskBackwardTests
{
    [Fact]
    public void HeadsReceiveExactlyTheirOwnTasksGradient()
    {
        using var model = new TinyMultiTaskModel(tasks: 3, seed: 1);
        using var scope = NewDisposeScope();
        var expected = model.Heads.Select((head, t) =>
            autograd.grad([model.Losses()[t]], head.parameters().ToArray()).Select(g => g.data<double>().ToArray()).ToArray()).ToArray();

        new MultiTaskBackward(new PCGrad(seed: 3), model.Shared, model.HeadParameters).Backward(model.Losses());

        for (var t = 0; t < 3; t++)
        {
            var actual = model.Heads[t].parameters().Select(p => p.grad!.data<double>().ToArray()).ToArray();
            Assert.Equal(expected[t], actual);
        }
    }

    [Fact]
    public void SharedParametersReceiveTheAggregatedJacobian()
    {
        using var model = new TinyMultiTaskModel(tasks: 3, seed: 2);
        using var scope = NewDisposeScope();
        var shared = model.Shared.ToArray();
        // TorchSharp terminates the process (rather than throwing) on a backward through a freed graph: retain it.
        var rows = model.Losses().Select(loss =>
            cat(autograd.grad([loss], shared, retain_graph: true).Select(g => g.reshape(-1)).ToArray())).ToArray();
        var jacobian = stack(rows);
        var expected = new PCGrad(seed: 17).Aggregate(jacobian);

        var report = new MultiTaskBackward(new PCGrad(seed: 17), model.Shared, model.HeadParameters).Backward(model.Losses());

        var written = cat(shared.Select(p => p.grad!.reshape(-1)).ToArray());
        Assert.True(written.allclose(expected, rtol: 1e-12, atol: 1e-14));
        // The reported weights reproduce the update as a combination of the task gradients.
        Assert.NotNull(report.Weights);
        Assert.True(Jacobian.Combine(jacobian, report.Weights!).allclose(written, rtol: 1e-12, atol: 1e-14));
        Assert.Equal(model.Losses().Select(l => l.item<double>()), report.Losses);
        Assert.Equal(3, report.Conflicts!.TaskCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Float32CpuStepMatchesTheFloat64Computation(bool byFeatures)
    {
        // A float32 CPU Jacobian takes the hand-written Gramian kernel where the processor has 512-bit vectors (and
        // the matrix product elsewhere; the test holds either way). The trunk's sizes (35, 7, 42, 6) are not multiples
        // of the vector width. On the parameters path head 0's weight is declared shared, so the
        // other tasks have a zero gradient for it (the features path only reaches what lies before the features).
        using var model = new TinyMultiTaskModel(tasks: 4, seed: 6, dtype: ScalarType.Float32);
        using var scope = NewDisposeScope();
        var head0 = model.Heads[0].weight!;
        Parameter[] shared = byFeatures ? [.. model.Shared] : [.. model.Shared, head0];
        Parameter[] heads = [.. model.HeadParameters.Where(p => !shared.Any(s => s.Handle == p.Handle))];
        var rows = model.Losses().Select(loss =>
            cat(autograd.grad([loss], shared, retain_graph: true, allow_unused: true)
                .Select((g, k) => g.IsInvalid ? zeros(shared[k].numel()) : g.reshape(-1)).ToArray())).ToArray();
        var jacobian = stack(rows);
        var gramian = Jacobian.Gramian(jacobian.to(ScalarType.Float64));
        var expectedWeights = new PCGrad(seed: 8).Weights(gramian);
        var expected = Jacobian.Combine(jacobian.to(ScalarType.Float64), expectedWeights);

        var backward = new MultiTaskBackward(new PCGrad(seed: 8), shared, heads);
        var features = model.Features();
        var report = byFeatures ? backward.Backward(model.Losses(features), features) : backward.Backward(model.Losses(features));

        Assert.Equal(expectedWeights, report.Weights!, (a, b) => Math.Abs(a - b) <= 1e-5 * (1 + Math.Abs(a)));
        var written = cat(shared.Select(p => p.grad!.reshape(-1)).ToArray()).to(ScalarType.Float64);
        Assert.True(written.allclose(expected, rtol: 1e-4, atol: 1e-6), $"max difference {(written - expected).abs().max().item<double>():E2}");
        if (!byFeatures)
        {
            Assert.True(written.narrow(0, jacobian.shape[1] - 6, 6).abs().sum().item<double>() > 0, "head 0's weight, shared by declaration, receives the update");
        }
    }

    [Fact]
    public void ParametersPathAndFeaturesPathAgree()
    {
        using var model = new TinyMultiTaskModel(tasks: 4, seed: 3);
        using var scope = NewDisposeScope();

        var byParameters = new MultiTaskBackward(new PCGrad(seed: 5), model.Shared, model.HeadParameters).Backward(model.Losses());
        var parameterGradients = model.Gradients();
        model.ZeroGrad();
        var features = model.Features();
        var byFeatures = new MultiTaskBackward(new PCGrad(seed: 5), model.Shared, model.HeadParameters).Backward(model.Losses(features), features);
        var featureGradients = model.Gradients();

        Assert.Equal(byParameters.Weights!, byFeatures.Weights!, (a, b) => Math.Abs(a - b) <= 1e-12);
        for (var k = 0; k < parameterGradients.Length; k++)
        {
            Assert.Equal(parameterGradients[k].Length, featureGradients[k].Length);
            for (var e = 0; e < parameterGradients[k].Length; e++)
            {
                Assert.True(Math.Abs(parameterGradients[k][e] - featureGradients[k][e]) <= 1e-12 * (1 + Math.Abs(parameterGradients[k][e])),
                    $"parameter {k}[{e}]: {parameterGradients[k][e]:R} vs {featureGradients[k][e]:R}");
            }
        }
    }

    [Fact]
    public void GradientsAccumulateLikeBackward()
    {
        using var model = new TinyMultiTaskModel(tasks: 2, seed: 5);
        using var scope = NewDisposeScope();
        var backward = new MultiTaskBackward(new PCGrad(seed: 1), model.Shared, model.HeadParameters);
        backward.Backward(model.Losses());
        var once = model.Gradients();
        backward.Backward(model.Losses());
        var twice = model.Gradients();
        for (var k = 0; k < once.Length; k++)
        {
            Assert.Equal(once[k].Select(v => 2 * v), twice[k], (a, b) => Math.Abs(a - b) <= 1e-14 * (1 + Math.Abs(a)));
        }
    }

    [Fact]
    public void BothLossesFallUnderPCGrad()
    {
        using var model = new TinyMultiTaskModel(tasks: 2, seed: 6);
        var optimizer = new AggregationStep(optim.Adam(model.All, lr: 0.01), new PCGrad(seed: 2), model.Shared);
        var initial = Array.Empty<double>();
        StepReport? last = null;
        for (var step = 0; step < 300; step++)
        {
            using var scope = NewDisposeScope();
            last = optimizer.Step(model.Losses());
            if (step == 0)
            {
                initial = last.Losses;
            }
        }
        for (var t = 0; t < 2; t++)
        {
            Assert.True(last!.Losses[t] < 0.5 * initial[t], $"task {t}: {initial[t]} → {last.Losses[t]}");
        }
    }

    [Fact]
    public void OptimizerStepsReleaseEveryTensorTheyCreate()
    {
        const int tasks = 3;
        using var model = new TinyMultiTaskModel(tasks, seed: 7);
        var optimizer = new AggregationStep(optim.Adam(model.All, 0.01), new PCGrad(seed: 2), model.Shared);
        void Steps(int count, bool features)
        {
            for (var step = 0; step < count; step++)
            {
                using var scope = NewDisposeScope();
                if (features)
                {
                    var shared = model.Features();
                    optimizer.Step(model.Losses(shared), shared);
                }
                else
                {
                    optimizer.Step(model.Losses());
                }
            }
        }
        Steps(5, features: false);
        Steps(5, features: true);
        var live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Steps(50, features: false);
        Steps(50, features: true);

        // autograd.grad(allow_unused) returns a handle-less placeholder for each parameter a loss does not reach
        // (here the other tasks' heads: T·(T−1)·2 per step). TorchSharp counts these as live forever although they
        // own no native memory; every other tensor a step creates must be gone.
        const int placeholdersPerStep = tasks * (tasks - 1) * 2;
        Assert.Equal(live + 100 * placeholdersPerStep, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void OptimizerTreatsEveryNonSharedParameterAsTaskSpecific()
    {
        using var model = new TinyMultiTaskModel(tasks: 2, seed: 8);
        using var scope = NewDisposeScope();
        var expected = autograd.grad([model.Losses()[1]], model.Heads[1].parameters().ToArray()).Select(g => g.data<double>().ToArray()).ToArray();
        var optimizer = new AggregationStep(optim.SGD(model.All, 0.0), new PCGrad(), model.Shared);
        optimizer.Step(model.Losses());
        Assert.Equal(expected, model.Heads[1].parameters().Select(p => p.grad!.data<double>().ToArray()).ToArray());
    }

    [Fact]
    public void RepresentationWeightingUsesTheFeatureGramianAndOneTrunkPass()
    {
        using var model = new TinyMultiTaskModel(tasks: 3, seed: 9);
        using var scope = NewDisposeScope();
        var shared = model.Shared.ToArray();
        var features = model.Features();
        var losses = model.Losses(features);
        var featureRows = losses.Select(l => autograd.grad([l], [features], retain_graph: true)[0].reshape(-1)).ToArray();
        var parameterRows = losses.Select(l => cat(autograd.grad([l], shared, retain_graph: true).Select(g => g.reshape(-1)).ToArray())).ToArray();
        var featureGramian = Jacobian.Gramian(stack(featureRows));
        var weighting = new InverseNormWeighting();
        var expectedWeights = weighting.Weights(featureGramian);
        var expected = Jacobian.Combine(stack(parameterRows), expectedWeights);

        var report = new MultiTaskBackward(weighting, model.Shared, model.HeadParameters).Backward(losses, features);

        Assert.Equal(GradientScope.SharedFeatures, report.ConflictScope);
        Assert.Equal(expectedWeights, report.Weights!, (a, b) => Math.Abs(a - b) <= 1e-12 * Math.Abs(a));
        Assert.Equal(featureGramian[0, 1] / Math.Sqrt(featureGramian[0, 0] * featureGramian[1, 1]), report.Conflicts!.Cosine[0, 1]!.Value, 12);
        var written = cat(shared.Select(p => p.grad!.reshape(-1)).ToArray());
        Assert.True(written.allclose(expected, rtol: 1e-10, atol: 1e-12));
    }

    /// <summary>A test weighting whose weights depend on the Gramian it is given: w_i = 1/‖∂L_i/∂z‖.</summary>
    private sealed class InverseNormWeighting : GramianWeighting
    {
        public override bool UsesRepresentationGramian => true;

        protected override double[] ComputeWeights(GramianContext context) =>
            [.. Enumerable.Range(0, context.Gramian.TaskCount).Select(i => 1 / Math.Sqrt(context.Gramian[i, i]))];
    }
}
