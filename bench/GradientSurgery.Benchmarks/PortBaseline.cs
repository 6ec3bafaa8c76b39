using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Benchmarks;

/// <summary>
/// BENCHMARK BASELINE ONLY — not part of the library. The algorithm of the popular Python port of PCGrad
/// (Pytorch-PCGrad's <c>pc_backward</c>), re-expressed on TorchSharp so that it runs on the same engine as ours:
/// T full backward passes with the graph retained, each task's gradient over ALL parameters flattened into its
/// own copy (with a has-grad mask), then the T² loop of vector dot products and projections over P (each task
/// visits a shuffled list of all tasks, itself included, as the port does), then the merge (mean over tasks for
/// parameters every task reaches, sum elsewhere), unflattened into <c>.grad</c>.
/// </summary>
internal sealed class PortBaseline(IReadOnlyList<Parameter> parameters, optim.Optimizer optimizer, int seed)
{
    private readonly Random _random = new(seed);

    public void Step(IReadOnlyList<Tensor> losses)
    {
        var grads = new List<Tensor>();
        var hasGrads = new List<Tensor>();
        for (var i = 0; i < losses.Count; i++)
        {
            optimizer.zero_grad();
            losses[i].backward(retain_graph: true);
            grads.Add(cat([.. parameters.Select(p => p.grad is { } g ? g.flatten() : zeros(p.numel()))]));
            hasGrads.Add(cat([.. parameters.Select(p => p.grad is not null ? ones(p.numel()) : zeros(p.numel()))]));
        }
        var shared = stack(hasGrads).prod(0).to(ScalarType.Bool);
        var projected = grads.Select(g => g.clone()).ToList();
        var order = Enumerable.Range(0, grads.Count).ToArray();
        foreach (var gi in projected)
        {
            _random.Shuffle(order);
            foreach (var j in order)
            {
                var gj = grads[j];
                var dot = gi.dot(gj);
                if (dot.item<float>() < 0)
                {
                    gi.sub_(dot * gj / gj.dot(gj));
                }
            }
        }
        var all = stack(projected);
        var merged = where(shared, all.mean([0]), all.sum(dim: 0));
        long offset = 0;
        using (no_grad())
        {
            foreach (var p in parameters)
            {
                p.grad = merged.narrow(0, offset, p.numel()).view_as(p).clone();
                offset += p.numel();
            }
        }
        optimizer.step();
    }
}
