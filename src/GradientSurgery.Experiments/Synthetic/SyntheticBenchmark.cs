using GradientSurgery.Aggregation;
using GradientSurgery.Diagnostics;
using GradientSurgery.Training;
using GradientSurgery.Weighting;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Synthetic;

/// <summary>
/// Trains the synthetic multi-task regression model with one method (an aggregator or a loss weighting) and
/// records losses and, for aggregators, conflicts.
/// </summary>
/// <remarks>
/// A loss weighting runs as <see cref="LossWeightingStep"/> prescribes, with its learnable weights in the
/// model's Adam optimizer (same learning rate). An epoch is one pass over the shuffled training set, so DWA's
/// epoch closes whenever a new permutation is drawn; GradNorm balances the gradient norms on
/// <see cref="SyntheticModel.LastSharedLayerWeight"/>; uncertainty weighting uses the Gaussian likelihood
/// (Kendall et al., Eq. 7), since the losses are mean squared errors; FAMO's losses after the step are the same
/// batch's, recomputed under <c>no_grad</c> (the model has no dropout, so its mode does not matter). Conflict
/// statistics are NaN (not measured) for loss weightings, which never form the per-task gradients.
/// </remarks>
public static class SyntheticBenchmark
{
    /// <summary>Runs one method with one seed (the seed fixes data, initial weights, batches and the method's randomness).</summary>
    /// <param name="config">Sizes and schedule.</param>
    /// <param name="method">A method specification (see <see cref="MethodCatalog"/>), e.g. <c>mean</c>, <c>pcgrad</c> or <c>famo</c>.</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="progress">Called after every step with the number of steps done.</param>
    public static IReadOnlyList<SyntheticRecord> Run(SyntheticConfig config, string method, long seed, Action<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        MethodCatalog.Validate(method, seed);
        using var data = SyntheticTasks.Create(config, seed);
        manual_seed(seed);
        using var model = new SyntheticModel(config);
        using var training = MethodCatalog.CreateStep(method, seed, new MethodSetup(
            model.parameters(), model.SharedParameters, config.Tasks, parameters => optim.Adam(parameters, config.LearningRate),
            model.LastSharedLayerWeight, UncertaintyTaskKind.Regression));
        var batches = new Generator((ulong)seed ^ 0x5EED_BA7C_0000_0001UL);
        var records = new List<SyntheticRecord>();
        var window = new Window(config.Tasks);
        var order = Array.Empty<long>();
        var position = 0;
        for (var step = 1; step <= config.Steps; step++)
        {
            if (position + config.BatchSize > order.Length)
            {
                if (order.Length > 0)
                {
                    training.EndEpoch();
                }
                order = randperm(config.TrainSize, generator: batches).data<long>().ToArray();
                position = 0;
            }
            using (var scope = NewDisposeScope())
            {
                var index = tensor(order.AsSpan(position, Math.Min(config.BatchSize, config.TrainSize)).ToArray());
                position += config.BatchSize;
                var inputs = data.TrainInputs.index_select(0, index);
                var targets = data.TrainTargets.Select(t => t.index_select(0, index)).ToArray();
                Tensor[] Losses(Tensor[] predictions) => [.. predictions.Select((p, t) => nn.functional.mse_loss(p, targets[t]))];
                var features = model.Features(inputs);
                var losses = Losses(model.Heads(features));
                var report = training.Step(losses, features, () => Losses(model.forward(inputs)));
                window.Add(report.Losses, report.Conflicts);
            }
            if (step % config.EvaluateEvery == 0 || step == config.Steps)
            {
                records.Add(window.Close(step, Evaluate(model, data)));
            }
            progress?.Invoke(step);
        }
        return records;
    }

    private static double[] Evaluate(SyntheticModel model, SyntheticTasks data)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.eval();
        var predictions = model.forward(data.TestInputs);
        model.train();
        return [.. predictions.Select((p, t) => nn.functional.mse_loss(p, data.TestTargets[t]).item<float>()).Select(v => (double)v)];
    }

    /// <summary>Averages the step reports between two evaluations.</summary>
    private sealed class Window(int tasks)
    {
        private readonly double[] _loss = new double[tasks];
        private readonly ConflictAverages _conflicts = new();
        private int _steps;

        public void Add(double[] losses, ConflictReport? conflicts)
        {
            _steps++;
            for (var t = 0; t < _loss.Length; t++)
            {
                _loss[t] += losses[t];
            }
            _conflicts.Add(conflicts);
        }

        public SyntheticRecord Close(int step, double[] testLoss)
        {
            var record = new SyntheticRecord(
                step, [.. _loss.Select(l => l / _steps)], testLoss,
                _conflicts.ConflictFraction, _conflicts.MeanCosine, _conflicts.MagnitudeSimilarity, _conflicts.Curvature);
            Array.Clear(_loss);
            _conflicts.Clear();
            _steps = 0;
            return record;
        }
    }
}
