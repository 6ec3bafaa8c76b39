using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Synthetic;

/// <summary>
/// The data of the synthetic benchmark, in the spirit of GradNorm's (Chen et al., ICML 2018, Section 4.1):
/// y_i = σ_i tanh((B + ε_i) x) with a common matrix B, a task-specific ε_i and a per-task scale σ_i, so the
/// tasks are related, pull the shared features apart, and have losses of very different size.
/// </summary>
public sealed class SyntheticTasks : IDisposable
{
    private SyntheticTasks(Tensor trainInputs, Tensor[] trainTargets, Tensor testInputs, Tensor[] testTargets)
    {
        TrainInputs = trainInputs;
        TrainTargets = trainTargets;
        TestInputs = testInputs;
        TestTargets = testTargets;
    }

    /// <summary>Training inputs, N×D (float32).</summary>
    public Tensor TrainInputs { get; }

    /// <summary>Training targets, one N×O tensor per task.</summary>
    public Tensor[] TrainTargets { get; }

    /// <summary>Test inputs.</summary>
    public Tensor TestInputs { get; }

    /// <summary>Test targets, one per task.</summary>
    public Tensor[] TestTargets { get; }

    /// <summary>Generates the data deterministically from <paramref name="seed"/>.</summary>
    public static SyntheticTasks Create(SyntheticConfig config, long seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)seed);
        var scale = 1.0 / Math.Sqrt(config.InputSize);
        var common = randn(config.OutputSize, config.InputSize, dtype: ScalarType.Float64, generator: generator) * scale;
        var maps = config.Scales.Select(sigma =>
            (Sigma: sigma, Map: common + config.TaskSpread * scale * randn(config.OutputSize, config.InputSize, dtype: ScalarType.Float64, generator: generator))).ToArray();
        Tensor[] Targets(Tensor inputs) => maps.Select(m => (m.Sigma * tanh(inputs.mm(m.Map.t()))).to(ScalarType.Float32)).ToArray();
        var train = randn(config.TrainSize, config.InputSize, dtype: ScalarType.Float64, generator: generator);
        var test = randn(config.TestSize, config.InputSize, dtype: ScalarType.Float64, generator: generator);
        var result = new SyntheticTasks(train.to(ScalarType.Float32), Targets(train), test.to(ScalarType.Float32), Targets(test));
        result.TrainInputs.MoveToOuterDisposeScope();
        result.TestInputs.MoveToOuterDisposeScope();
        foreach (var target in result.TrainTargets.Concat(result.TestTargets))
        {
            target.MoveToOuterDisposeScope();
        }
        return result;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var tensor in TrainTargets.Concat(TestTargets).Append(TrainInputs).Append(TestInputs))
        {
            tensor.Dispose();
        }
    }
}
