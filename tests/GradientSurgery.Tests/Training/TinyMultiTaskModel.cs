using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Tests.Training;

/// <summary>A trunk (5 → 7 → 6, float64 unless told) with one linear head per task, and a regression batch whose tasks conflict.</summary>
internal sealed class TinyMultiTaskModel : IDisposable
{
    public TinyMultiTaskModel(int tasks, long seed, ScalarType dtype = ScalarType.Float64)
    {
        manual_seed(seed);
        Trunk = Sequential(Linear(5, 7), Tanh(), Linear(7, 6));
        Trunk.to(dtype);
        Heads = Enumerable.Range(0, tasks).Select(_ => Linear(6, 1)).ToArray();
        foreach (var head in Heads)
        {
            head.to(dtype);
        }
        var generator = new Generator((ulong)seed + 1);
        Inputs = randn(16, 5, dtype: ScalarType.Float64, generator: generator).to(dtype);
        var direction = randn(5, 1, dtype: ScalarType.Float64, generator: generator).to(dtype);
        // Task t wants the output to follow (−1)^t · direction plus its own component: the tasks pull apart.
        Targets = Enumerable.Range(0, tasks)
            .Select(t => Inputs.mm(direction * (t % 2 == 0 ? 1.0 : -1.0) + 0.5 * randn(5, 1, dtype: ScalarType.Float64, generator: generator).to(dtype)))
            .ToArray();
    }

    public Sequential Trunk { get; }

    public Linear[] Heads { get; }

    public Tensor Inputs { get; }

    public Tensor[] Targets { get; }

    public IEnumerable<Parameter> Shared => Trunk.parameters();

    public IEnumerable<Parameter> HeadParameters => Heads.SelectMany(h => h.parameters());

    public IEnumerable<Parameter> All => Shared.Concat(HeadParameters);

    public Tensor Features() => Trunk.forward(Inputs);

    public Tensor[] Losses(Tensor features) =>
        Heads.Select((head, t) => functional.mse_loss(head.forward(features), Targets[t])).ToArray();

    public Tensor[] Losses() => Losses(Features());

    public double[][] Gradients() => All.Select(p => p.grad is { } g ? g.to(ScalarType.Float64).data<double>().ToArray() : []).ToArray();

    public void ZeroGrad()
    {
        foreach (var p in All)
        {
            p.grad = null;
        }
    }

    public void Dispose()
    {
        Trunk.Dispose();
        foreach (var head in Heads)
        {
            head.Dispose();
        }
        Inputs.Dispose();
        foreach (var target in Targets)
        {
            target.Dispose();
        }
    }
}
