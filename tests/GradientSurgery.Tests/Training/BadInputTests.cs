using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Training;

/// <summary>Every bad input gets an exception that names the culprit, and no gradient is written.</summary>
public sealed class BadInputTests
{
    private static MultiTaskBackward BackwardFor(TinyMultiTaskModel model) => new(new PCGrad(seed: 0), model.Shared, model.HeadParameters);

    [Fact]
    public void EmptyLossList()
    {
        using var model = new TinyMultiTaskModel(2, seed: 1);
        var error = Assert.Throws<ArgumentException>(() => BackwardFor(model).Backward(Array.Empty<Tensor>()));
        Assert.Contains("empty", error.Message);
    }

    [Fact]
    public void NonScalarLossNamesTheTaskAndShape()
    {
        using var model = new TinyMultiTaskModel(2, seed: 1);
        using var scope = NewDisposeScope();
        var features = model.Features();
        Tensor[] losses = [model.Losses(features)[0], model.Heads[1].forward(features)];
        var error = Assert.Throws<ArgumentException>(() => BackwardFor(model).Backward(losses));
        Assert.Contains("task 1 is not a scalar", error.Message);
        Assert.Contains("[16, 1]", error.Message);
    }

    [Fact]
    public void LossNotConnectedToTheSharedParameters()
    {
        using var model = new TinyMultiTaskModel(2, seed: 1);
        using var scope = NewDisposeScope();
        // Task 1 only reaches its head, through a constant input.
        Tensor[] losses = [model.Losses()[0], model.Heads[1].forward(ones(4, 6, dtype: ScalarType.Float64)).sum()];
        var error = Assert.Throws<ArgumentException>(() => BackwardFor(model).Backward(losses));
        Assert.Contains("task 1 is not connected to the shared parameters", error.Message);

        Tensor[] constant = [model.Losses()[0], tensor(1.0, dtype: ScalarType.Float64)];
        Assert.Contains("task 1 is not connected", Assert.Throws<ArgumentException>(() => BackwardFor(model).Backward(constant)).Message);
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)] // the Gramian kernel, on 512-bit-vector processors
    public void NaNGradientNamesTheTaskAndWritesNothing(ScalarType dtype)
    {
        using var model = new TinyMultiTaskModel(3, seed: 1, dtype);
        using var scope = NewDisposeScope();
        foreach (var p in model.All)
        {
            p.grad = full_like(p, 7.0);
        }
        var features = model.Features();
        var losses = model.Losses(features);
        // sqrt has an infinite derivative at 0 and the factor 0 turns it into NaN: the loss is 0, the gradient NaN.
        losses[2] = losses[2] + (features * 0.0).sqrt().sum();

        var error = Assert.Throws<ArithmeticException>(() => BackwardFor(model).Backward(losses));

        Assert.Contains("task 2", error.Message);
        Assert.Contains("NaN or Inf", error.Message);
        Assert.All(model.All, p => Assert.True(p.grad!.eq(7.0).all().item<bool>()));
    }

    [Theory]
    [InlineData(ScalarType.Float64, 1e200)]
    [InlineData(ScalarType.Float32, 1e25)]
    public void GradientTooLargeToSquareIsNamedAsSuch(ScalarType dtype, double scale)
    {
        using var model = new TinyMultiTaskModel(2, seed: 1, dtype);
        using var scope = NewDisposeScope();
        var losses = model.Losses();
        // A finite loss whose gradient (scale per weight) has a squared norm beyond the dtype's range.
        losses[1] = losses[1] + (model.Trunk.parameters().First() * scale).sum();
        var error = Assert.Throws<ArithmeticException>(() => BackwardFor(model).Backward(losses));
        Assert.Contains("task 1", error.Message);
        Assert.Contains("too large", error.Message);
        Assert.Contains(dtype.ToString(), error.Message);
    }

    [Fact]
    public void InfiniteLossNamesTheTask()
    {
        using var model = new TinyMultiTaskModel(2, seed: 1);
        using var scope = NewDisposeScope();
        var losses = model.Losses();
        losses[0] = losses[0] / 0.0;
        var error = Assert.Throws<ArithmeticException>(() => BackwardFor(model).Backward(losses));
        Assert.Contains("task 0 is ∞", error.Message.Replace("Infinity", "∞"));
    }

    [Fact]
    public void HeadUsedByTwoTasksMustBeDeclaredShared()
    {
        using var model = new TinyMultiTaskModel(2, seed: 1);
        using var scope = NewDisposeScope();
        var features = model.Features();
        Tensor[] losses = [model.Losses(features)[0], (model.Heads[0].forward(features) + model.Heads[1].forward(features)).mean()];
        var error = Assert.Throws<InvalidOperationException>(() => BackwardFor(model).Backward(losses));
        Assert.Contains("receives gradients from tasks 0 and 1", error.Message);
    }

    [Fact]
    public void LossOnAnotherDevice()
    {
        using var model = new TinyMultiTaskModel(2, seed: 1);
        using var scope = NewDisposeScope();
        var losses = model.Losses();
        losses[1] = zeros(1, dtype: ScalarType.Float64, device: new Device(DeviceType.META)).sum().requires_grad_();
        var error = Assert.Throws<ArgumentException>(() => BackwardFor(model).Backward(losses));
        Assert.Contains("task 1 is on meta", error.Message);
    }

    [Fact]
    public void SharedParametersOfMixedDtypes()
    {
        using var model = new TinyMultiTaskModel(2, seed: 1);
        using var extra = new TorchSharp.Modules.Parameter(zeros(3, dtype: ScalarType.Float32));
        var error = Assert.Throws<ArgumentException>(() => new MultiTaskBackward(new PCGrad(), model.Shared.Append(extra), model.HeadParameters));
        Assert.Contains("Shared parameter 4", error.Message);
        Assert.Contains("Float32", error.Message);
    }

    [Fact]
    public void ParameterBothSharedAndTaskSpecific()
    {
        using var model = new TinyMultiTaskModel(2, seed: 1);
        var error = Assert.Throws<ArgumentException>(() => new MultiTaskBackward(new PCGrad(), model.Shared, model.HeadParameters.Concat(model.Shared.Take(1))));
        Assert.Contains("also shared or listed twice", error.Message);
    }

    [Fact]
    public void SharedParameterOutsideTheOptimizer()
    {
        using var model = new TinyMultiTaskModel(2, seed: 1);
        var error = Assert.Throws<ArgumentException>(() => new AggregationStep(optim.SGD(model.HeadParameters, 0.1), new PCGrad(), model.Shared));
        Assert.Contains("Shared parameter 0", error.Message);
        Assert.Contains("never be updated", error.Message);
    }

    [Fact]
    public void FeaturesThatDoNotRequireGrad()
    {
        using var model = new TinyMultiTaskModel(2, seed: 1);
        using var scope = NewDisposeScope();
        var features = model.Features().detach();
        var error = Assert.Throws<ArgumentException>(() => BackwardFor(model).Backward(model.Losses(features), features));
        Assert.Contains("Shared feature tensor 0", error.Message);
    }

    [Fact]
    public void LossThatDoesNotGoThroughTheFeatures()
    {
        using var model = new TinyMultiTaskModel(2, seed: 1);
        using var scope = NewDisposeScope();
        var features = model.Features();
        Tensor[] losses = [model.Losses(features)[0], model.Losses(model.Features())[1]];
        var error = Assert.Throws<ArgumentException>(() => BackwardFor(model).Backward(losses, features));
        Assert.Contains("task 1 is not connected", error.Message);
        Assert.Contains("shared feature", error.Message);
    }
}
