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
        SplitAssertions.CoversEveryParameterOnce(model, tasks: 3);

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

        if (name == "crossstitch")
        {
            // The rule matters here: the other task's loss reaches a column through the cross-stitch units.
            var other = autograd.grad([Losses(model.forward(inputs))[1]], model.TaskParameters[0].ToArray(), allow_unused: true);
            Assert.Contains(other, g => !g.IsInvalid && g.abs().max().item<double>() > 1e-8);
        }

        // A loss weighting gives task t's own parameters ∂objective/∂L_t · ∂L_t/∂θ; GLS's objective is (L_0 L_1)^(1/2).
        SplitAssertions.OwnParametersReceiveOnlyTheirTasksGradient(
            model, inputs, Losses, method, UncertaintyTaskKind.Classification,
            method == "gls" ? (values, t) => Math.Sqrt(values[0] * values[1]) / (2 * values[t]) : null);
    }
}
