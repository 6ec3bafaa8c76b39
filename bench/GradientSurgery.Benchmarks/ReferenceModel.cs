using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Benchmarks;

/// <summary>The benchmark's reference model: shared MLP trunk 784-512-512 (ReLU), T linear heads 512→10, cross-entropy, batch 256.</summary>
internal sealed class ReferenceModel : IDisposable
{
    public ReferenceModel(int tasks, long seed, int input = 784, int hidden = 512, int batch = 256)
    {
        manual_seed(seed);
        Trunk = Sequential(Linear(input, hidden), ReLU(), Linear(hidden, hidden), ReLU());
        Heads = [.. Enumerable.Range(0, tasks).Select(_ => Linear(hidden, 10))];
        var generator = new Generator((ulong)seed);
        Inputs = randn(batch, input, generator: generator);
        Labels = [.. Enumerable.Range(0, tasks).Select(_ => randint(0, 10, batch, generator: generator))];
    }

    public Sequential Trunk { get; }

    public Linear[] Heads { get; }

    public Tensor Inputs { get; }

    public Tensor[] Labels { get; }

    public IEnumerable<Parameter> Shared => Trunk.parameters();

    public IEnumerable<Parameter> All => Trunk.parameters().Concat(Heads.SelectMany(h => h.parameters()));

    public long SharedCount => Shared.Sum(p => p.numel());

    public (Tensor Features, Tensor[] Losses) Forward()
    {
        var features = Trunk.forward(Inputs);
        return (features, [.. Heads.Select((h, t) => functional.cross_entropy(h.forward(features), Labels[t]))]);
    }

    public void Dispose()
    {
        Trunk.Dispose();
        foreach (var head in Heads)
        {
            head.Dispose();
        }
        Inputs.Dispose();
        foreach (var label in Labels)
        {
            label.Dispose();
        }
    }
}
