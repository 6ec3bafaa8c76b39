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
        SplitAssertions.CoversEveryParameterOnce(model, tasks: 3);
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
        SplitAssertions.OwnParametersReceiveOnlyTheirTasksGradient(
            model, inputs, outputs => tasks.Losses(outputs, targets), method, UncertaintyTaskKind.Regression);
    }
}
