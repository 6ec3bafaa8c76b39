using GradientSurgery.Models;
using GradientSurgery.Weighting;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Models;

/// <summary>The checks every architecture's declared split must pass (classification and dense ones alike).</summary>
internal static class SplitAssertions
{
    /// <summary>Shared and task-owned parameters cover every parameter exactly once; the last shared layer is shared.</summary>
    public static void CoversEveryParameterOnce(MultiTaskModule model, int tasks)
    {
        var all = model.parameters().Select(p => p.Handle).ToArray();
        var shared = model.SharedParameters.Select(p => p.Handle).ToArray();
        var own = model.TaskParameters.Select(list => list.Select(p => p.Handle).ToArray()).ToArray();
        Assert.Equal(tasks, model.TaskCount);
        Assert.Equal(tasks, own.Length);
        Assert.NotEmpty(shared);
        Assert.All(own, Assert.NotEmpty);
        IntPtr[] declared = [.. shared, .. own.SelectMany(list => list)];
        Assert.Equal(declared.Length, declared.Distinct().Count());
        Assert.Equal(all.Order(), declared.Order());
        Assert.Contains(model.LastSharedLayerWeight.Handle, shared);
    }

    /// <summary>
    /// One step of <paramref name="method"/> gives each task's own parameters exactly that task's gradient, scaled by
    /// <paramref name="scale"/>(loss values, task) (a loss weighting's ∂objective/∂L_t; 1 for aggregators), and the last
    /// shared layer some gradient. The model must be deterministic (evaluation mode, or no random layers).
    /// </summary>
    public static void OwnParametersReceiveOnlyTheirTasksGradient(
        MultiTaskModule model, Tensor inputs, Func<Tensor[], Tensor[]> losses, string method, UncertaintyTaskKind likelihood,
        Func<double[], int, double>? scale = null)
    {
        var tasks = model.TaskCount;
        var own = model.TaskParameters.Select(list => list.ToArray()).ToArray();
        var values = losses(model.forward(inputs)).Select(l => l.item<double>()).ToArray();
        var expected = new Tensor[tasks][];
        for (var t = 0; t < tasks; t++)
        {
            var loss = losses(model.forward(inputs))[t];
            var factor = scale?.Invoke(values, t) ?? 1.0;
            expected[t] = [.. autograd.grad([loss], own[t], allow_unused: true).Select((g, k) => g.IsInvalid ? zeros_like(own[t][k]) : g * factor)];
        }

        var setup = new MethodSetup(
            model.parameters(), model.SharedParameters, tasks, parameters => optim.SGD(parameters, 1e-9), model.LastSharedLayerWeight,
            likelihood, model.TaskParameters);
        using var step = MethodCatalog.CreateStep(method, 0, setup);
        var forward = model.Forward(inputs);
        step.Step(losses(forward.Outputs), forward.SharedFeatures);
        var name = model.GetType().Name;
        for (var t = 0; t < tasks; t++)
        {
            for (var k = 0; k < own[t].Length; k++)
            {
                var gradient = own[t][k].grad ?? zeros_like(own[t][k]);
                var error = (gradient - expected[t][k]).abs().max().item<double>();
                var size = expected[t][k].abs().max().item<double>();
                Assert.True(error <= 1e-9 * Math.Max(1, size), $"{name}/{method}: task {t}'s parameter {k} (shape [{string.Join(", ", own[t][k].shape)}]) is off by {error:E2} (largest expected {size:E2}).");
            }
        }
        // Every shared parameter a task reaches gets the surgery's update (a routed block no task took gets none).
        Assert.True(model.LastSharedLayerWeight.grad is { } last && last.abs().sum().item<double>() > 0, $"{name}/{method}: the last shared layer received no gradient.");
    }
}
