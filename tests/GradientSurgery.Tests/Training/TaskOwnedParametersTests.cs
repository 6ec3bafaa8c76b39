using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Training;

/// <summary>
/// Task-owned parameters: two "columns" that both losses read (as cross-stitch columns are), each owned by one task.
/// L0 = Σ (W x · a + 0.5 b)², L1 = Σ (W x · b − a)³ / 3 reach both columns; each column must get its owner's gradient only.
/// </summary>
public sealed class TaskOwnedParametersTests
{
    private static (Parameter W, Parameter A, Parameter B, Tensor[] Losses) Problem()
    {
        manual_seed(5);
        var w = new Parameter(randn(3, 4, dtype: ScalarType.Float64));
        var a = new Parameter(randn(3, dtype: ScalarType.Float64));
        var b = new Parameter(randn(3, dtype: ScalarType.Float64));
        var x = randn(4, dtype: ScalarType.Float64);
        var shared = w.matmul(x);
        var l0 = (shared * a + 0.5 * b).pow(2).sum();
        var l1 = (shared * b - a).pow(3).sum() / 3;
        return (w, a, b, [l0, l1]);
    }

    [Fact]
    public void EachOwnedParameterGetsItsOwnersGradientOnly()
    {
        using var scope = NewDisposeScope();
        var (w, a, b, losses) = Problem();
        var expectedA = autograd.grad([losses[0]], [a], retain_graph: true)[0];
        var expectedB = autograd.grad([losses[1]], [b], retain_graph: true)[0];
        // The rule matters: the other loss reaches each column.
        Assert.True(autograd.grad([losses[1]], [a], retain_graph: true)[0].abs().sum().item<double>() > 0);
        var rows = losses.Select(l => autograd.grad([l], [w], retain_graph: true)[0].reshape(-1)).ToArray();

        using var backward = new MultiTaskBackward(new Mean(), [w], [a, b], [[a], [b]]);
        backward.Backward(losses);

        Assert.True(a.grad!.allclose(expectedA, rtol: 1e-12, atol: 1e-12));
        Assert.True(b.grad!.allclose(expectedB, rtol: 1e-12, atol: 1e-12));
        Assert.True(w.grad!.reshape(-1).allclose((rows[0] + rows[1]) / 2, rtol: 1e-12, atol: 1e-12));
    }

    [Fact]
    public void WithoutOwnersAColumnTwoTasksReachIsRefused()
    {
        using var scope = NewDisposeScope();
        var (w, a, b, losses) = Problem();
        using var backward = new MultiTaskBackward(new Mean(), [w], [a, b]);
        var error = Assert.Throws<InvalidOperationException>(() => backward.Backward(losses));
        Assert.Contains("receives gradients from tasks 0 and 1", error.Message);
    }

    [Fact]
    public void BadOwnershipIsRefusedNamingTheTaskAndParameter()
    {
        using var scope = NewDisposeScope();
        var (w, a, b, _) = Problem();
        var shared = Assert.Throws<ArgumentException>(() => new MultiTaskBackward(new Mean(), [w], [a, b], [[a], [w]]));
        Assert.Contains("Parameter 0 of task 1", shared.Message);
        Assert.Contains("not among the task-specific parameters", shared.Message);
        var twice = Assert.Throws<ArgumentException>(() => new MultiTaskBackward(new Mean(), [w], [a, b], [[a, b], [b]]));
        Assert.Contains("also listed for task 0", twice.Message);
        var weighting = MethodCatalog.CreateLossWeighting("gls", 0, new GradientSurgery.Weighting.LossWeightingContext(2));
        var duplicate = Assert.Throws<ArgumentException>(() => new LossWeightingStep(optim.SGD([w, a, b], 0.1), weighting, [[a, b], [b]]));
        Assert.Contains("two tasks", duplicate.Message);
    }
}
