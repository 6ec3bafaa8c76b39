using GradientSurgery.Aggregation;
using GradientSurgery.Diagnostics;
using GradientSurgery.Training;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Synthetic;

/// <summary>Trains the synthetic multi-task regression model with one aggregator and records losses and conflicts.</summary>
public static class SyntheticBenchmark
{
    /// <summary>Runs one method with one seed (the seed fixes data, initial weights, batches and the method's randomness).</summary>
    /// <param name="config">Sizes and schedule.</param>
    /// <param name="method">An aggregator specification from the registry, e.g. <c>mean</c> or <c>pcgrad</c>.</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="progress">Called after every step with the number of steps done.</param>
    public static IReadOnlyList<SyntheticRecord> Run(SyntheticConfig config, string method, long seed, Action<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var aggregator = Aggregators.Create(method, seed);
        using var data = SyntheticTasks.Create(config, seed);
        manual_seed(seed);
        using var model = new SyntheticModel(config);
        var optimizer = new MultiTaskOptimizer(optim.Adam(model.parameters(), config.LearningRate), aggregator, model.SharedParameters);
        var batches = new Generator((ulong)seed ^ 0x5EED_BA7C_0000_0001UL);
        var records = new List<SyntheticRecord>();
        var window = new Window(config.Tasks);
        var order = Array.Empty<long>();
        var position = 0;
        for (var step = 1; step <= config.Steps; step++)
        {
            if (position + config.BatchSize > order.Length)
            {
                order = randperm(config.TrainSize, generator: batches).data<long>().ToArray();
                position = 0;
            }
            using (var scope = NewDisposeScope())
            {
                var index = tensor(order.AsSpan(position, Math.Min(config.BatchSize, config.TrainSize)).ToArray());
                position += config.BatchSize;
                var features = model.Features(data.TrainInputs.index_select(0, index));
                var predictions = model.Heads(features);
                var losses = predictions.Select((p, t) => nn.functional.mse_loss(p, data.TrainTargets[t].index_select(0, index))).ToArray();
                window.Add(optimizer.Step(losses, features));
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
        private double _conflict, _cosine, _similarity, _curvature;
        private int _steps, _cosineSteps, _similaritySteps, _curvatureSteps;

        public void Add(StepReport report)
        {
            _steps++;
            for (var t = 0; t < _loss.Length; t++)
            {
                _loss[t] += report.Losses[t];
            }
            Accumulate(report.Conflicts.ConflictFraction, ref _conflict, ref _cosineSteps, countSteps: false);
            Accumulate(report.Conflicts.MeanCosine, ref _cosine, ref _cosineSteps, countSteps: true);
            Accumulate(report.Conflicts.MeanMagnitudeSimilarity, ref _similarity, ref _similaritySteps, countSteps: true);
            Accumulate(report.Conflicts.MeanCurvature, ref _curvature, ref _curvatureSteps, countSteps: true);
        }

        public SyntheticRecord Close(int step, double[] testLoss)
        {
            var record = new SyntheticRecord(
                step, [.. _loss.Select(l => l / _steps)], testLoss,
                Mean(_conflict, _cosineSteps), Mean(_cosine, _cosineSteps), Mean(_similarity, _similaritySteps), Mean(_curvature, _curvatureSteps));
            Array.Clear(_loss);
            _conflict = _cosine = _similarity = _curvature = 0;
            _steps = _cosineSteps = _similaritySteps = _curvatureSteps = 0;
            return record;
        }

        private static void Accumulate(double? value, ref double sum, ref int count, bool countSteps)
        {
            if (value is { } v)
            {
                sum += v;
                if (countSteps)
                {
                    count++;
                }
            }
        }

        private static double Mean(double sum, int count) => count == 0 ? double.NaN : sum / count;
    }
}
