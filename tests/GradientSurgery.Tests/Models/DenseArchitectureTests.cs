using GradientSurgery.Experiments.Supervised;
using GradientSurgery.Models;
using GradientSurgery.Weighting;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Models;

/// <summary>
/// NYUv2's dense networks (<see cref="DenseArchitectures"/>): output shapes, the declared split of the parameters, and the
/// rule that a task's own parameters receive only that task's gradient.
/// </summary>
public sealed class DenseArchitectureTests
{
    // Three levels: images must be multiples of 8 pixels; tiny widths keep the tests fast.
    private static readonly int[] Filters = [4, 6, 8];

    public static TheoryData<string> Names => [.. DenseArchitectures.Names];

    public static TheoryData<string, string> NamesAndMethods
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var name in DenseArchitectures.Names)
            {
                foreach (var method in new[] { "mean", "pcgrad" })
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
        using var model = DenseArchitectures.Create(name, Filters);
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
        // Every convolution is a GemmConv2d.
        Assert.DoesNotContain(model.modules(), m => m is TorchSharp.Modules.Conv2d);

        using var scope = NewDisposeScope();
        var (outputs, features) = model.Forward(randn(2, 3, 16, 24));
        Assert.Equal([2L, 13, 16, 24], outputs[0].shape);
        Assert.Equal([2L, 1, 16, 24], outputs[1].shape);
        Assert.Equal([2L, 3, 16, 24], outputs[2].shape);
        Assert.NotNull(features);
        // Normals have unit length.
        Assert.True((outputs[2].norm(1) - 1).abs().max().item<float>() < 1e-4);
        Assert.Throws<ArgumentException>(() => model.Forward(randn(1, 3, 12, 24)));
    }

    [Fact]
    public void DefaultWidthsAndRefusedArchitectures()
    {
        Assert.Equal([16, 32, 64, 128, 128], SegNetBackbone.DefaultFilters);
        Assert.Equal([64, 128, 256, 512, 512], SegNetBackbone.PaperFilters);
        foreach (var name in new[] { "crossstitch", "mmoe", "routing" })
        {
            var refused = Assert.Throws<ArgumentException>(() => DenseArchitectures.Create(name));
            Assert.Contains("hps, mtan", refused.Message);
        }
    }

    [Theory]
    [MemberData(nameof(NamesAndMethods))]
    public void OwnParametersReceiveOnlyTheirTasksGradient(string name, string method)
    {
        manual_seed(2);
        using var model = DenseArchitectures.Create(name, Filters);
        model.to(ScalarType.Float64);
        using var scope = NewDisposeScope();
        var inputs = rand(2, 3, 8, 16, dtype: ScalarType.Float64);
        Tensor[] targets =
        [
            randint(-1, 13, [2, 8, 16]),
            rand(2, 1, 8, 16, dtype: ScalarType.Float64),
            nn.functional.normalize(randn(2, 3, 8, 16, dtype: ScalarType.Float64), dim: 1),
        ];
        var tasks = new Nyuv2Tasks();
        var own = model.TaskParameters.Select(list => list.ToArray()).ToArray();
        var expected = new Tensor[3][];
        for (var t = 0; t < 3; t++)
        {
            var loss = tasks.Losses(model.forward(inputs), targets)[t];
            expected[t] = [.. autograd.grad([loss], own[t], allow_unused: true).Select((g, k) => g.IsInvalid ? zeros_like(own[t][k]) : g)];
        }
        var setup = new MethodSetup(
            model.parameters(), model.SharedParameters, 3, parameters => optim.SGD(parameters, 1e-9), model.LastSharedLayerWeight,
            UncertaintyTaskKind.Regression, model.TaskParameters);
        using var step = MethodCatalog.CreateStep(method, 0, setup);
        var forward = model.Forward(inputs);
        step.Step(tasks.Losses(forward.Outputs, targets), forward.SharedFeatures);
        for (var t = 0; t < 3; t++)
        {
            for (var k = 0; k < own[t].Length; k++)
            {
                var gradient = own[t][k].grad ?? zeros_like(own[t][k]);
                var error = (gradient - expected[t][k]).abs().max().item<double>();
                var size = expected[t][k].abs().max().item<double>();
                Assert.True(error <= 1e-9 * Math.Max(1, size), $"{name}/{method}: task {t}'s parameter {k} is off by {error:E2} (largest expected {size:E2}).");
            }
        }
        Assert.True(model.LastSharedLayerWeight.grad is { } last && last.abs().sum().item<double>() > 0, $"{name}/{method}: the last shared layer received no gradient.");
    }
}
