using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Benchmarks;

/// <summary>The five ways of taking one training step that the step benchmark compares.</summary>
internal enum StepMode
{
    /// <summary>The summed loss, one backward, Adam.</summary>
    Plain = 1,

    /// <summary>Forward, T bare vector-Jacobian products of the trunk (through each head), Adam: the floor for exact per-task gradients.</summary>
    LowerBound = 2,

    /// <summary>PCGrad through the library's parameters path.</summary>
    PCGradParameters = 3,

    /// <summary>PCGrad through the library's features path.</summary>
    PCGradFeatures = 4,

    /// <summary>The Python port's algorithm on the same engine (benchmark baseline).</summary>
    PortAlgorithm = 5,
}

/// <summary>One model, one optimizer and the machinery of every mode, so that modes can be interleaved step by step.</summary>
internal sealed class StepRunner : IDisposable
{
    private readonly ReferenceModel _model;
    private readonly optim.Optimizer _adam;
    private readonly AggregationStep _pcgrad;
    private readonly PortBaseline _port;
    private readonly Parameter[] _shared;
    private readonly Parameter[][] _headParameters;

    public StepRunner(int tasks, long seed)
    {
        _model = new ReferenceModel(tasks, seed);
        _adam = optim.Adam(_model.All, 1e-4);
        _pcgrad = new AggregationStep(_adam, new PCGrad(seed: seed), _model.Shared);
        _port = new PortBaseline([.. _model.All], _adam, (int)seed);
        _shared = [.. _model.Shared];
        _headParameters = [.. _model.Heads.Select(h => h.parameters().ToArray())];
    }

    public long SharedParameterCount => _model.SharedCount;

    /// <summary>Takes one step; returns the surgery time for the library's modes.</summary>
    public TimeSpan Step(StepMode mode)
    {
        using var scope = NewDisposeScope();
        var (features, losses) = _model.Forward();
        switch (mode)
        {
            case StepMode.Plain:
                _adam.zero_grad();
                losses.Aggregate((a, b) => a + b).backward();
                _adam.step();
                return TimeSpan.Zero;
            case StepMode.LowerBound:
                _adam.zero_grad();
                for (var t = 0; t < losses.Length; t++)
                {
                    Tensor[] inputs = [.. _shared, .. _headParameters[t]];
                    var gradients = autograd.grad([losses[t]], inputs, retain_graph: t < losses.Length - 1);
                    // Results are discarded; handing the last ones to Adam (pointer assignment) makes it update every parameter.
                    using (no_grad())
                    {
                        for (var k = 0; k < inputs.Length; k++)
                        {
                            inputs[k].grad = gradients[k];
                        }
                    }
                }
                _adam.step();
                return TimeSpan.Zero;
            case StepMode.PCGradParameters:
                return _pcgrad.Step(losses).Timings.Surgery;
            case StepMode.PCGradFeatures:
                return _pcgrad.Step(losses, features).Timings.Surgery;
            case StepMode.PortAlgorithm:
                _port.Step(losses);
                return TimeSpan.Zero;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, null);
        }
    }

    public void Dispose()
    {
        _pcgrad.Dispose();
        _model.Dispose();
    }
}
