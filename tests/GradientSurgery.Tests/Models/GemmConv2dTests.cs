using GradientSurgery.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Models;

/// <summary>
/// <see cref="GemmConv2d"/> is torch's Conv2d computed another way: same parameters, same initial values, same
/// outputs and gradients (checked in float64 against <c>conv2d</c>, whose float64 CPU path is ATen's own
/// im2col kernel, not the convolution kernels GemmConv2d avoids).
/// </summary>
public sealed class GemmConv2dTests
{
    [Theory]
    [InlineData(1, 10, 5)]
    [InlineData(10, 20, 5)]
    [InlineData(3, 7, 3)]
    public void InitialWeightsAreThoseOfConv2dForTheSameSeed(int inChannels, int outChannels, int kernel)
    {
        manual_seed(42);
        using var reference = nn.Conv2d(inChannels, outChannels, kernel);
        manual_seed(42);
        using var layer = new GemmConv2d(inChannels, outChannels, kernel);
        Assert.Equal(reference.weight!.data<float>().ToArray(), layer.Weight.data<float>().ToArray());
        Assert.Equal(reference.bias!.data<float>().ToArray(), layer.Bias!.data<float>().ToArray());
        Assert.Equal(["weight", "bias"], layer.named_parameters().Select(p => p.name));
    }

    [Fact]
    public void ConvertingTheModuleToFloat64ConvertsWhatForwardUses()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var layer = new GemmConv2d(2, 3, 3);
        layer.to(ScalarType.Float64);
        Assert.Equal(ScalarType.Float64, layer.Weight.dtype);
        var input = randn([2, 2, 6, 6], ScalarType.Float64, generator: new Generator(4));
        var expected = nn.functional.conv2d(input, layer.Weight, layer.Bias);
        Assert.True(layer.forward(input).allclose(expected, rtol: 1e-12, atol: 1e-12));
    }

    [Theory]
    [InlineData(1, 10, 5, 1, 0, 1, true, 28, 28)]     // MultiLeNet's conv1
    [InlineData(10, 20, 5, 1, 0, 1, true, 12, 12)]    // MultiLeNet's conv2
    [InlineData(3, 4, 3, 2, 1, 1, true, 9, 7)]        // stride, padding, a rectangular odd-sized input
    [InlineData(2, 3, 3, 1, 2, 2, false, 8, 10)]      // dilation, no bias
    [InlineData(4, 2, 1, 1, 0, 1, true, 5, 5)]        // 1×1 kernel
    [InlineData(2, 5, 4, 3, 0, 1, true, 4, 4)]        // kernel as large as the input: one output pixel
    public void OutputAndGradientsEqualConv2dInFloat64(
        int inChannels, int outChannels, int kernel, int stride, int padding, int dilation, bool bias, int height, int width)
    {
        manual_seed(7);
        using var layer = new GemmConv2d(inChannels, outChannels, kernel, stride, padding, dilation, bias, ScalarType.Float64);
        using var scope = NewDisposeScope();
        var input = randn(3, inChannels, height, width, dtype: ScalarType.Float64).requires_grad_();
        var output = layer.forward(input);
        var expected = nn.functional.conv2d(input, layer.Weight, layer.Bias, strides: [stride, stride], padding: [padding, padding], dilation: [dilation, dilation]);
        Assert.Equal(expected.shape, output.shape);
        AssertClose(expected, output);

        var cotangent = randn_like(expected);
        Tensor[] parameters = bias ? [input, layer.Weight, layer.Bias!] : [input, layer.Weight];
        var got = autograd.grad([(output * cotangent).sum()], parameters);
        var want = autograd.grad([(expected * cotangent).sum()], parameters);
        for (var i = 0; i < parameters.Length; i++)
        {
            AssertClose(want[i], got[i]);
        }
    }

    [Fact]
    public void Float32MatchesConv2dToRounding()
    {
        manual_seed(3);
        using var layer = new GemmConv2d(10, 20, 5);
        using var scope = NewDisposeScope();
        var input = randn(16, 10, 12, 12);
        var expected = nn.functional.conv2d(input.to(ScalarType.Float64), layer.Weight.to(ScalarType.Float64), layer.Bias!.to(ScalarType.Float64));
        var output = layer.forward(input).to(ScalarType.Float64);
        Assert.True((output - expected).abs().max().item<double>() <= 1e-5 * expected.abs().max().item<double>());
    }

    [Fact]
    public void RunsUnderNoGradAndInEvaluation()
    {
        manual_seed(5);
        using var layer = new GemmConv2d(2, 3, 3);
        layer.eval();
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            var output = layer.forward(randn(2, 2, 6, 6));
            Assert.Equal([2L, 3, 4, 4], output.shape);
            Assert.False(output.requires_grad);
        }
    }

    [Fact]
    public void BadInputsNameTheProblem()
    {
        using var layer = new GemmConv2d(3, 4, 5);
        using var scope = NewDisposeScope();
        Assert.Contains("4-D input", Assert.Throws<ArgumentException>(() => layer.forward(randn(3, 8, 8))).Message);
        Assert.Contains("3 input channels, but the input has 2", Assert.Throws<ArgumentException>(() => layer.forward(randn(1, 2, 8, 8))).Message);
        Assert.Contains("Float64", Assert.Throws<ArgumentException>(() => layer.forward(randn(1, 3, 8, 8, dtype: ScalarType.Float64))).Message);
        Assert.Contains("spans 5×5 pixels", Assert.Throws<ArgumentException>(() => layer.forward(randn(1, 3, 4, 8))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GemmConv2d(3, 4, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GemmConv2d(3, 4, 3, stride: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GemmConv2d(3, 4, 3, padding: -1));
    }

    /// <summary>
    /// No network of the models project contains one of torch's convolution modules: their CPU kernels return
    /// non-finite gradients on some processors (docs/troubleshooting.md), so every convolution is a GemmConv2d.
    /// A new network with a parameterless constructor is checked without touching this test.
    /// </summary>
    [Fact]
    public void NoModelUsesTorchsConvolutionModules()
    {
        var networks = typeof(IMultiTaskNetwork).Assembly.GetTypes()
            .Where(t => typeof(nn.Module).IsAssignableFrom(t) && !t.IsAbstract && HasDefaultConstructor(t))
            .ToArray();
        Assert.Contains(typeof(MultiLeNet), networks);
        foreach (var type in networks)
        {
            var constructor = type.GetConstructors().First(c => c.GetParameters().All(p => p.IsOptional));
            using var network = (nn.Module)constructor.Invoke([.. constructor.GetParameters().Select(p => p.DefaultValue)]);
            var convolutions = network.named_modules()
                .Where(m => m.module.GetType().Name is "Conv1d" or "Conv2d" or "Conv3d" or "ConvTranspose1d" or "ConvTranspose2d" or "ConvTranspose3d")
                .Select(m => m.name)
                .ToArray();
            Assert.True(convolutions.Length == 0, $"{type.Name} uses torch convolution modules: {string.Join(", ", convolutions)}");
        }
    }

    [Fact]
    public void MultiLeNetKeepsItsParameterNames()
    {
        using var model = new MultiLeNet();
        Assert.Equal(
            ["trunk.conv1.weight", "trunk.conv1.bias", "trunk.conv2.weight", "trunk.conv2.bias", "trunk.fc.weight", "trunk.fc.bias"],
            model.named_parameters().Select(p => p.name).Take(6));
    }

    private static bool HasDefaultConstructor(Type type) =>
        type.GetConstructors().Any(c => c.GetParameters().All(p => p.IsOptional));

    private static void AssertClose(Tensor expected, Tensor actual)
    {
        var scale = Math.Max(1, expected.abs().max().item<double>());
        var difference = (expected - actual).abs().max().item<double>();
        Assert.True(difference <= 1e-12 * scale, $"max |difference| {difference:E3} (scale {scale:E3})");
    }
}
