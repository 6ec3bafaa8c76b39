using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using GradientSurgery.Weighting;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Experiments.Toy;

/// <summary>
/// Runs Adam on a toy landscape with the update chosen by an aggregator or a loss weighting of the library.
/// </summary>
/// <remarks>
/// <para>
/// Aggregators: the surgery is the library's own code path: for an <see cref="GramianWeighting"/> (PCGrad, …)
/// the 2×2 Gramian of the closed-form task gradients goes through <see cref="GramianWeighting.Weights(double[,])"/>
/// exactly as in <c>MultiTaskBackward</c>, and the update is wᵀJ; any other aggregator receives the 2×2 Jacobian
/// as a float64 tensor. Only the gradients and Adam are computed by hand, in float64.
/// </para>
/// <para>
/// Loss weightings act on the losses' graph, so θ is a 2-element float64 <see cref="Parameter"/>, the losses are
/// the landscape's tensor version (<see cref="IToyLandscape.Losses(Tensor)"/>), and each step is
/// <see cref="LossWeightingStep.Step(IReadOnlyList{Tensor}, Func{IReadOnlyList{Tensor}}?)"/>: objective = Combine([L1 − b1, L2 − b2]), backward, one step of
/// <c>torch.optim.Adam</c> (the given learning rate, default betas) over θ and the weighting's learnable
/// weights, then FAMO's update with the losses at the new θ. The weightings see the losses shifted by the
/// landscape's <see cref="IToyLandscape.LossLowerBounds"/> because the toy's losses are negative logarithms in
/// places and UW, DWA, GradNorm, FAMO and GLS need non-negative or positive losses; the shift leaves every
/// task gradient unchanged, and for FAMO it is exactly the min_losses of its official toy code. GradNorm's
/// shared layer is θ itself. The toy has no data and hence no epochs: for DWA every <c>epochSteps</c> steps
/// form an epoch (<see cref="DefaultEpochSteps"/> by default), whose average losses feed its weights.
/// </para>
/// </remarks>
public static class ToyOptimizer
{
    /// <summary>Points kept per trajectory (plus the final one).</summary>
    public const int RecordedPoints = 2000;

    /// <summary>Steps per epoch for loss weightings that work per epoch (DWA), by default.</summary>
    public const int DefaultEpochSteps = 1000;

    /// <summary>Runs <paramref name="steps"/> Adam steps from <paramref name="start"/> with a method of the catalog, of either kind.</summary>
    /// <param name="landscape">The objective.</param>
    /// <param name="specification">The method's specification, e.g. <c>pcgrad</c> or <c>famo</c>.</param>
    /// <param name="seed">The seed of methods that draw random numbers.</param>
    /// <param name="start">θ at step 0.</param>
    /// <param name="steps">Number of Adam steps (≥ 1).</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    /// <param name="epochSteps">Steps that form one epoch for DWA (≥ 1).</param>
    /// <param name="progress">Called with the number of steps done, every few thousand steps.</param>
    public static IReadOnlyList<(int Step, double X, double Y)> Run(
        IToyLandscape landscape, string specification, long seed, (double X, double Y) start, int steps, double learningRate,
        int epochSteps = DefaultEpochSteps, Action<int>? progress = null) =>
        // Aggregators take the closed-form path: the paper's toy runs 500,000 steps, which autograd would make
        // minutes long; the weights still come from the method's own code. Loss weightings need the losses' graph.
        MethodCatalog.Resolve(specification).Kind == MethodKind.Aggregator
            ? Run(landscape, MethodCatalog.CreateAggregator(specification, seed), start, steps, learningRate, progress)
            : Run(landscape, theta => MethodCatalog.CreateLossWeighting(specification, seed, new LossWeightingContext(2, theta.device, ScalarType.Float64, theta)),
                start, steps, learningRate, epochSteps, progress);

    /// <summary>Runs <paramref name="steps"/> Adam steps from <paramref name="start"/>.</summary>
    /// <param name="landscape">The objective.</param>
    /// <param name="aggregator">Turns the two task gradients into the update.</param>
    /// <param name="start">θ at step 0.</param>
    /// <param name="steps">Number of Adam steps (≥ 1).</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    /// <param name="progress">Called with the number of steps done, every few thousand steps.</param>
    public static IReadOnlyList<(int Step, double X, double Y)> Run(
        IToyLandscape landscape, IAggregator aggregator, (double X, double Y) start, int steps, double learningRate, Action<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(landscape);
        ArgumentNullException.ThrowIfNull(aggregator);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        if (!(learningRate > 0) || !double.IsFinite(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be a positive finite number.");
        }
        var recordEvery = Math.Max(1, steps / RecordedPoints);
        var trajectory = new List<(int, double, double)>(steps / recordEvery + 2) { (0, start.X, start.Y) };
        var adam = new ToyAdam(learningRate);
        var theta = new[] { start.X, start.Y };
        var jacobian = new double[2, 2];
        var gramian = new double[2, 2];
        Span<double> update = stackalloc double[2];
        var weighting = aggregator as GramianWeighting;
        for (var step = 1; step <= steps; step++)
        {
            landscape.Gradients(theta[0], theta[1], jacobian);
            if (weighting is not null)
            {
                for (var i = 0; i < 2; i++)
                {
                    for (var j = 0; j < 2; j++)
                    {
                        gramian[i, j] = jacobian[i, 0] * jacobian[j, 0] + jacobian[i, 1] * jacobian[j, 1];
                    }
                }
                var w = weighting.Weights(gramian);
                update[0] = w[0] * jacobian[0, 0] + w[1] * jacobian[1, 0];
                update[1] = w[0] * jacobian[0, 1] + w[1] * jacobian[1, 1];
            }
            else
            {
                AggregateWithTensors(aggregator, jacobian, update);
            }
            if (!double.IsFinite(update[0]) || !double.IsFinite(update[1]))
            {
                throw new ArithmeticException($"The update became {update[0]}, {update[1]} at step {step} (θ = {theta[0]}, {theta[1]}).");
            }
            adam.Step(theta, update);
            if (step % recordEvery == 0 || step == steps)
            {
                trajectory.Add((step, theta[0], theta[1]));
            }
            if (progress is not null && step % 5000 == 0)
            {
                progress(step);
            }
        }
        progress?.Invoke(steps);
        return trajectory;
    }

    /// <summary>Runs <paramref name="steps"/> Adam steps from <paramref name="start"/> with a loss weighting.</summary>
    /// <param name="landscape">The objective.</param>
    /// <param name="createWeighting">Builds the weighting for θ (GradNorm's shared layer weight).</param>
    /// <param name="start">θ at step 0.</param>
    /// <param name="steps">Number of Adam steps (≥ 1).</param>
    /// <param name="learningRate">Adam's learning rate, for θ and the weighting's learnable weights.</param>
    /// <param name="epochSteps">Steps that form one epoch for DWA (≥ 1).</param>
    /// <param name="progress">Called with the number of steps done, every few thousand steps.</param>
    /// <exception cref="ArithmeticException">θ became NaN or infinite; the message names the step.</exception>
    public static IReadOnlyList<(int Step, double X, double Y)> Run(
        IToyLandscape landscape, Func<Parameter, ILossWeighting> createWeighting, (double X, double Y) start, int steps, double learningRate,
        int epochSteps = DefaultEpochSteps, Action<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(landscape);
        ArgumentNullException.ThrowIfNull(createWeighting);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(epochSteps);
        if (!(learningRate > 0) || !double.IsFinite(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be a positive finite number.");
        }
        using var outer = NewDisposeScope();
        var recordEvery = Math.Max(1, steps / RecordedPoints);
        var trajectory = new List<(int, double, double)>(steps / recordEvery + 2) { (0, start.X, start.Y) };
        var theta = new Parameter(tensor(new[] { start.X, start.Y }, dtype: ScalarType.Float64), requires_grad: true);
        var weighting = createWeighting(theta);
        var learnable = (weighting as ILearnableLossWeighting)?.parameters() ?? [];
        using var optimizer = new LossWeightingStep(optim.Adam([theta, .. learnable], learningRate), weighting);
        var (bound1, bound2) = landscape.LossLowerBounds;
        Tensor[] ShiftedLosses()
        {
            var (l1, l2) = landscape.Losses(theta);
            return [l1 - bound1, l2 - bound2];
        }
        for (var step = 1; step <= steps; step++)
        {
            using (var scope = NewDisposeScope())
            {
                optimizer.Step(ShiftedLosses(), ShiftedLosses);
            }
            if (step % epochSteps == 0)
            {
                optimizer.EndEpoch();
            }
            var values = theta.data<double>();
            var (x, y) = (values[0], values[1]);
            if (!double.IsFinite(x) || !double.IsFinite(y))
            {
                throw new ArithmeticException($"θ became {x}, {y} at step {step} with {weighting.GetType().Name}.");
            }
            if (step % recordEvery == 0 || step == steps)
            {
                trajectory.Add((step, x, y));
            }
            if (progress is not null && step % 5000 == 0)
            {
                progress(step);
            }
        }
        progress?.Invoke(steps);
        return trajectory;
    }

    private static void AggregateWithTensors(IAggregator aggregator, double[,] jacobian, Span<double> update)
    {
        using var scope = NewDisposeScope();
        var result = aggregator.Aggregate(tensor(jacobian, dtype: ScalarType.Float64)).to(ScalarType.Float64).cpu();
        var values = result.data<double>();
        update[0] = values[0];
        update[1] = values[1];
    }
}
