using BenchmarkDotNet.Attributes;
using GradientSurgery.Aggregation;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Benchmarks;

/// <summary>The four parts of the surgery, separately: Gramian J Jᵀ (and, for comparison, by libtorch's mm), PCGrad weights on the T×T Gramian, combination wᵀJ, write-back to .grad.</summary>
[MemoryDiagnoser(false)]
public class AggregatorBenchmarks
{
    private Tensor _jacobian = null!;
    private double[,] _gramian = null!;
    private double[] _weights = null!;
    private Tensor _update = null!;
    private Parameter[] _parameters = null!;
    private PCGrad _pcgrad = null!;

    /// <summary>Number of tasks.</summary>
    [Params(2, 10, 40)]
    public int Tasks { get; set; }

    /// <summary>Number of shared parameters.</summary>
    [Params(10_000, 1_000_000)]
    public int Parameters { get; set; }

    /// <summary>Builds a random Jacobian and four parameter tensors that together hold P values.</summary>
    [GlobalSetup]
    public void Setup()
    {
        set_num_threads(2);
        var generator = new Generator(1);
        _jacobian = randn(Tasks, Parameters, generator: generator);
        _gramian = Jacobian.Gramian(_jacobian);
        _pcgrad = new PCGrad(seed: 1);
        _weights = _pcgrad.Weights(_gramian);
        _update = Jacobian.Combine(_jacobian, _weights);
        var quarter = Parameters / 4;
        _parameters = [.. Enumerable.Range(0, 4).Select(k => new Parameter(zeros(k < 3 ? quarter : Parameters - 3 * quarter)))];
    }

    /// <summary>G = J Jᵀ, copied to a T×T float64 array (the hand-written kernel on processors with AVX2 or AVX-512).</summary>
    [Benchmark]
    public double[,] Gramian() => Jacobian.Gramian(_jacobian);

    /// <summary>G = J Jᵀ by libtorch's matrix product, the route before the kernel, for comparison.</summary>
    [Benchmark]
    public void GramianByMatrixProduct()
    {
        using var product = _jacobian.mm(_jacobian.t());
        using var onCpu = product.to(ScalarType.Float64).cpu();
    }

    /// <summary>PCGrad's T×T projection in float64, random orders included.</summary>
    [Benchmark]
    public double[] Weights() => _pcgrad.Weights(_gramian);

    /// <summary>The update wᵀJ.</summary>
    [Benchmark]
    public void Combine()
    {
        using var update = Jacobian.Combine(_jacobian, _weights);
    }

    /// <summary>Slicing the update into the parameters' .grad, as the multi-task backward does.</summary>
    [Benchmark]
    public void WriteBack()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long offset = 0;
        foreach (var p in _parameters)
        {
            p.grad = _update.narrow(0, offset, p.numel()).view_as(p);
            offset += p.numel();
        }
    }
}
