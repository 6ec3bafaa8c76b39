using GradientSurgery.Models;
using GradientSurgery.Weighting;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Models;

/// <summary>
/// Every architecture of <see cref="Architectures"/>: its declared split of the parameters, and the rule that a task's own
/// parameter receives that task's gradient only, with an aggregator (features or parameters path) and with a loss weighting.
/// </summary>
public sealed class ArchitectureTests
{
    public static TheoryData<string> Names => [.. Architectures.Names];

    public static TheoryData<string, string> NamesAndMethods
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var name in Architectures.Names)
            {
                foreach (var method in new[] { "mean", "pcgrad", "gls" })
                {
                    data.Add(name, method);
                }
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void SplitCoversEveryParameterExactlyOnceAndOutputsHaveTheirShapes(string name)
    {
        manual_seed(1);
        using var model = Architectures.Create(name, tasks: 3, classes: 4);
        var all = model.parameters().Select(p => p.Handle).ToArray();
        var shared = model.SharedParameters.Select(p => p.Handle).ToArray();
        var own = model.TaskParameters.Select(list => list.Select(p => p.Handle).ToArray()).ToArray();
        Assert.Equal(3, model.TaskCount);
        Assert.Equal(3, own.Length);
        Assert.NotEmpty(shared);
        Assert.All(own, Assert.NotEmpty);
        IntPtr[] declared = [.. shared, .. own.SelectMany(list => list)];
        Assert.Equal(declared.Length, declared.Distinct().Count());
        Assert.Equal(all.Order(), declared.Order());
        Assert.Contains(model.LastSharedLayerWeight.Handle, shared);

        using var scope = NewDisposeScope();
        var (outputs, features) = model.Forward(randn(5, 1, 28, 28));
        Assert.Equal(3, outputs.Length);
        Assert.All(outputs, o => Assert.Equal([5L, 4L], o.shape));
        // Cross-stitch units and routed blocks are shared parameters after task-specific ones: no shared representation.
        Assert.Equal(name is "crossstitch" or "routing", features is null);
        Assert.Equal(3, model.forward(randn(2, 1, 28, 28)).Length);

        // Colour images of another size (CIFAR-100's 3×32×32).
        using var colour = Architectures.Create(name, tasks: 2, classes: 5, new ImageShape(3, 32));
        Assert.All(colour.Forward(randn(4, 3, 32, 32)).Outputs, o => Assert.Equal([4L, 5L], o.shape));
        Assert.Throws<ArgumentException>(() => Architectures.Create(name, 2, 5, new ImageShape(3, 12)));
    }

    [Theory]
    [MemberData(nameof(NamesAndMethods))]
    public void OwnParametersReceiveOnlyTheirTasksGradient(string name, string method)
    {
        manual_seed(2);
        using var model = Architectures.Create(name, tasks: 2, classes: 10);
        model.to(ScalarType.Float64);
        // Evaluation mode: no dropout, so that the reference and the step see the same function.
        model.eval();
        using var scope = NewDisposeScope();
        var inputs = randn(8, 1, 28, 28, dtype: ScalarType.Float64);
        Tensor[] labels = [randint(10, [8]), randint(10, [8])];
        Tensor[] Losses(Tensor[] outputs) => [.. outputs.Select((o, t) => nn.functional.cross_entropy(o, labels[t]))];

        var own = model.TaskParameters.Select(list => list.ToArray()).ToArray();
        var expected = new Tensor[2][];
        var values = Losses(model.forward(inputs)).Select(l => l.item<double>()).ToArray();
        for (var t = 0; t < 2; t++)
        {
            var loss = Losses(model.forward(inputs))[t];
            // A loss weighting gives task t's own parameters ∂objective/∂L_t · ∂L_t/∂θ; GLS's objective is (L_0 L_1)^(1/2).
            var scale = method == "gls" ? Math.Sqrt(values[0] * values[1]) / (2 * values[t]) : 1.0;
            expected[t] = [.. autograd.grad([loss], own[t], allow_unused: true).Select((g, k) => g.IsInvalid ? zeros_like(own[t][k]) : g * scale)];
        }
        if (name == "crossstitch")
        {
            // The rule matters here: the other task's loss reaches a column through the cross-stitch units.
            var other = autograd.grad([Losses(model.forward(inputs))[1]], own[0], allow_unused: true);
            Assert.Contains(other, g => !g.IsInvalid && g.abs().max().item<double>() > 1e-8);
        }

        var setup = new MethodSetup(
            model.parameters(), model.SharedParameters, 2, parameters => optim.SGD(parameters, 1e-9), model.LastSharedLayerWeight,
            UncertaintyTaskKind.Classification, model.TaskParameters);
        using var step = MethodCatalog.CreateStep(method, 0, setup);
        var forward = model.Forward(inputs);
        step.Step(Losses(forward.Outputs), forward.SharedFeatures);
        for (var t = 0; t < 2; t++)
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
        Assert.Contains(model.SharedParameters, p => p.grad is { } g && g.abs().sum().item<double>() > 0);
        Assert.True(model.LastSharedLayerWeight.grad is { } last && last.abs().sum().item<double>() > 0, $"{name}/{method}: the last shared layer received no gradient.");
    }
}
