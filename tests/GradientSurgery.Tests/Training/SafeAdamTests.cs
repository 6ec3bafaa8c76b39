using GradientSurgery.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Training;

/// <summary><see cref="SafeAdam"/>: torch.optim.Adam's arithmetic bit for bit, without its scalar lifetime race.</summary>
public sealed class SafeAdamTests
{
    private static float[][] Trajectory(Func<Parameter[], optim.Optimizer> create, ScalarType dtype, int steps)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        Parameter[] parameters = [new(randn([5], dtype: dtype, generator: generator)), new(randn([3, 2], dtype: dtype, generator: generator))];
        var target = randn([5], dtype: dtype, generator: generator);
        using var optimizer = create(parameters);
        var trajectory = new List<float[]>();
        for (var t = 0; t < steps; t++)
        {
            optimizer.zero_grad();
            ((parameters[0] - target).pow(2).sum() + parameters[1].tanh().sum()).backward();
            optimizer.step();
            trajectory.Add([.. parameters.SelectMany(p => p.detach().to(float32).data<float>().ToArray())]);
        }
        return [.. trajectory];
    }

    [Theory]
    [InlineData(0.0, false, false)]
    [InlineData(0.01, false, false)]
    [InlineData(0.0, true, false)]
    [InlineData(0.0, false, true)]
    public void StepsAreBitIdenticalToTorchSharpsAdam(double weightDecay, bool amsgrad, bool maximize)
    {
        foreach (var dtype in new[] { float32, float64 })
        {
            var expected = Trajectory(p => optim.Adam(p, 0.05, weight_decay: weightDecay, amsgrad: amsgrad, maximize: maximize), dtype, 40);
            var actual = Trajectory(p => new SafeAdam(p, 0.05, weight_decay: weightDecay, amsgrad: amsgrad, maximize: maximize), dtype, 40);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void AnotherThreadsGarbageCollectionsDoNotBreakTheStep()
    {
        // TorchSharp's Adam fails this within seconds (a finalized Scalar read by libtorch: "Unknown scalar type" or
        // "Expected false to be true"); SafeAdam holds its scalars for the native calls.
        var stop = false;
        var noise = new Thread(() =>
        {
            var keep = new object[64];
            var i = 0;
            while (!Volatile.Read(ref stop))
            {
                keep[i++ % keep.Length] = new byte[256];
            }
        });
        noise.Start();
        try
        {
            var parameter = new Parameter(randn(8));
            using var adam = new SafeAdam([parameter], 1e-3);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(3))
            {
                using var scope = NewDisposeScope();
                adam.zero_grad();
                (parameter * parameter).sum().backward();
                adam.step();
            }
            Assert.True(parameter.isfinite().all().item<bool>());
        }
        finally
        {
            Volatile.Write(ref stop, true);
            noise.Join();
        }
    }
}
