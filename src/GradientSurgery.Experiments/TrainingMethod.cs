using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using GradientSurgery.Weighting;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments;

/// <summary>
/// A training run's method and the Adam optimizer that applies it — exactly one of <see cref="Surgery"/> (an
/// aggregator through the multi-task backward) and <see cref="Weighted"/> (a loss weighting, one backward) — with
/// the method's checkpoint state. Shared by the supervised trainer and the synthetic benchmark.
/// </summary>
internal sealed record TrainingMethod(OptimizerHelper Optimizer, IAggregator? Aggregator, MultiTaskOptimizer? Surgery, LossWeightingOptimizer? Weighted) : IDisposable
{
    /// <summary>Builds the method named by <paramref name="specification"/> (either kind) and its Adam optimizer.</summary>
    /// <param name="specification">A method specification, e.g. <c>pcgrad</c> or <c>famo:gamma=0.01</c>.</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="parameters">All of the model's parameters.</param>
    /// <param name="shared">The shared (trunk) parameters.</param>
    /// <param name="lastSharedLayerWeight">The last shared layer's weight (GradNorm's layer).</param>
    /// <param name="tasks">Number of tasks.</param>
    /// <param name="learningRate">Adam's learning rate (also for a weighting's learnable weights).</param>
    /// <param name="uncertaintyKind">The likelihood of uncertainty weighting's tasks.</param>
    public static TrainingMethod Create(
        string specification, long seed, IEnumerable<Parameter> parameters, IEnumerable<Parameter> shared, Parameter lastSharedLayerWeight,
        int tasks, double learningRate, UncertaintyTaskKind uncertaintyKind)
    {
        if (Methods.Resolve(specification).Kind == MethodKind.Aggregator)
        {
            var aggregator = Aggregators.Create(specification, seed);
            var adam = optim.Adam(parameters, learningRate);
            return new TrainingMethod(adam, aggregator, new MultiTaskOptimizer(adam, aggregator, shared), null);
        }
        var context = new LossWeightingContext(tasks, lastSharedLayerWeight.device, lastSharedLayerWeight.dtype, lastSharedLayerWeight, uncertaintyKind);
        var weighting = LossWeightings.Create(specification, seed, context);
        var learnable = (weighting as ILearnableLossWeighting)?.parameters() ?? [];
        var optimizer = optim.Adam(parameters.Concat(learnable), learningRate);
        return new TrainingMethod(optimizer, null, null, new LossWeightingOptimizer(optimizer, weighting));
    }

    /// <summary>Frees the multi-task backward's reusable Jacobian.</summary>
    public void Dispose() => Surgery?.Dispose();

    /// <summary>The method's own state (an aggregator's or a weighting's), for the checkpoint.</summary>
    public void SaveState(BinaryWriter writer)
    {
        if (Weighted is null)
        {
            (Aggregator as IStateful)?.SaveState(writer);
            return;
        }
        var weighting = Weighted.Weighting;
        (weighting as IStateful)?.SaveState(writer);
        // Also written when IStateful covers them, so that a learnable weighting without it resumes exactly too.
        foreach (var parameter in (weighting as ILearnableLossWeighting)?.parameters() ?? [])
        {
            using var scope = NewDisposeScope();
            var values = parameter.detach().to(ScalarType.Float64).cpu().contiguous();
            writer.Write(values.numel());
            foreach (var value in values.data<double>())
            {
                writer.Write(value);
            }
        }
    }

    public void LoadState(BinaryReader reader)
    {
        if (Weighted is null)
        {
            (Aggregator as IStateful)?.LoadState(reader);
            return;
        }
        var weighting = Weighted.Weighting;
        (weighting as IStateful)?.LoadState(reader);
        foreach (var parameter in (weighting as ILearnableLossWeighting)?.parameters() ?? [])
        {
            var count = reader.ReadInt64();
            if (count != parameter.numel())
            {
                throw new InvalidDataException($"The checkpoint holds {count} values for a learnable weight of {weighting.GetType().Name} with {parameter.numel()} elements.");
            }
            var values = new double[count];
            for (var k = 0; k < count; k++)
            {
                values[k] = reader.ReadDouble();
            }
            using var scope = NewDisposeScope();
            using (no_grad())
            {
                parameter.copy_(tensor(values, dtype: ScalarType.Float64).reshape(parameter.shape).to(parameter.dtype, parameter.device));
            }
        }
    }
}
