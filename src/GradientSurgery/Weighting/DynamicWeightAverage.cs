using static TorchSharp.torch;

namespace GradientSurgery.Weighting;

/// <summary>
/// Dynamic Weight Average (DWA), "End-to-End Multi-Task Learning with Attention" (Liu, Johns and Davison,
/// CVPR 2019): during epoch t the objective is Σ_k λ_k(t) L_k with
/// λ_k(t) = K exp(w_k(t−1)/T) / Σ_i exp(w_i(t−1)/T) and w_k(t−1) = L_k(t−1) / L_k(t−2), where L_k(τ) is task k's
/// loss averaged over the training iterations of epoch τ, K the number of tasks and T the temperature (2 in
/// the paper). The weights are fixed within an epoch and sum to K; for the first two epochs w_k = 1, hence
/// λ_k = 1.
/// </summary>
/// <remarks>
/// <para>
/// The epoch averages are those of the losses passed to <see cref="Combine"/> (the raw training losses, as in
/// the official MTAN code, which averages the batch losses of each epoch); <see cref="EndEpoch"/> closes an
/// epoch. A larger T gives more uniform weights. The softmax is evaluated with the largest exponent
/// subtracted, so any ratio is safe.
/// </para>
/// <para>
/// The paper's losses are non-negative and its ratios positive; this implementation requires non-negative
/// losses. When a task's average of epoch t−2 is exactly 0 its ratio is undefined, and we use the limits: 0/0
/// is taken as 1 (the loss did not move) and x/0 with x &gt; 0 as +∞, in which case the tasks with an infinite
/// ratio share the total weight K equally (the limit of the softmax) and the others get 0.
/// </para>
/// </remarks>
public sealed class DynamicWeightAverage : ILossWeighting, IEpochAware, IStateful
{
    private const string StateTag = "DynamicWeightAverage/1";

    private int _taskCount;
    private int _completedEpochs;
    private double[] _older = [];
    private double[] _newer = [];
    private double[] _epochSums = [];
    private int _epochSteps;
    private double[] _lastWeights = [];

    /// <summary>Creates the weighting.</summary>
    /// <param name="temperature">The softmax temperature T &gt; 0 (paper: 2).</param>
    public DynamicWeightAverage(double temperature = 2.0)
    {
        if (!(temperature > 0.0) || !double.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be a finite number > 0.");
        }
        Temperature = temperature;
    }

    /// <summary>The softmax temperature T.</summary>
    public double Temperature { get; }

    /// <summary>The number of epochs closed by <see cref="EndEpoch"/> so far.</summary>
    public int CompletedEpochs => _completedEpochs;

    /// <inheritdoc />
    public double[] LastWeights => (double[])_lastWeights.Clone();

    /// <summary>The weights λ(t) of the current epoch (all 1 before the third epoch); null before the task count is known.</summary>
    public double[]? CurrentWeights => _taskCount == 0 ? null : Weights();

    /// <summary>Σ_k λ_k(t) L_k with the current epoch's weights; records the losses for the epoch average.</summary>
    public Tensor Combine(IReadOnlyList<Tensor> losses)
    {
        var values = LossList.Values(losses);
        LossList.RequireNonNegative(values, "DWA", "compares epoch averages by their ratio");
        if (_taskCount == 0)
        {
            Start(values.Length);
        }
        LossList.RequireTaskCount(_taskCount, values.Length, "DWA");
        var weights = Weights();
        using var scope = NewDisposeScope();
        var objective = LossList.WeightedSum(losses, weights);
        for (var k = 0; k < values.Length; k++)
        {
            _epochSums[k] += values[k];
        }
        _epochSteps++;
        _lastWeights = weights;
        return scope.MoveToOuter(objective);
    }

    /// <summary>Closes the epoch: its average losses become L(t−1), the previous ones L(t−2).</summary>
    public void EndEpoch()
    {
        if (_epochSteps == 0)
        {
            throw new InvalidOperationException("DWA: EndEpoch was called without any Combine since the previous epoch boundary; call it once per epoch, after its last step.");
        }
        _older = _newer;
        _newer = [.. _epochSums.Select(s => s / _epochSteps)];
        _epochSums = new double[_taskCount];
        _epochSteps = 0;
        _completedEpochs++;
    }

    /// <summary>
    /// λ_k = K softmax_k(w/T) for the descending rates w_k = <paramref name="previous"/>_k / <paramref name="beforePrevious"/>_k,
    /// with the limits described in the class remarks for zero denominators.
    /// </summary>
    public static double[] WeightsFromAverages(IReadOnlyList<double> previous, IReadOnlyList<double> beforePrevious, double temperature)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(beforePrevious);
        if (previous.Count == 0 || previous.Count != beforePrevious.Count)
        {
            throw new ArgumentException(
                $"Need two non-empty epoch averages of equal length, got {previous.Count} and {beforePrevious.Count}.", nameof(beforePrevious));
        }
        if (!(temperature > 0.0) || !double.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be a finite number > 0.");
        }
        var taskCount = previous.Count;
        var rates = new double[taskCount];
        for (var k = 0; k < taskCount; k++)
        {
            if (!(previous[k] >= 0.0) || !(beforePrevious[k] >= 0.0) || !double.IsFinite(previous[k]) || !double.IsFinite(beforePrevious[k]))
            {
                throw new ArgumentOutOfRangeException(nameof(previous), $"The epoch averages of task {k} ({previous[k]}, {beforePrevious[k]}) must be finite and ≥ 0.");
            }
            rates[k] = beforePrevious[k] > 0.0 ? previous[k] / beforePrevious[k]
                : previous[k] == 0.0 ? 1.0
                : double.PositiveInfinity;
        }
        var weights = new double[taskCount];
        var infinite = rates.Count(double.IsPositiveInfinity);
        if (infinite > 0)
        {
            for (var k = 0; k < taskCount; k++)
            {
                weights[k] = double.IsPositiveInfinity(rates[k]) ? (double)taskCount / infinite : 0.0;
            }
            return weights;
        }
        // Subtracting the largest exponent keeps exp from overflowing when a loss grew by a huge factor.
        var largest = rates.Max() / temperature;
        var sum = 0.0;
        for (var k = 0; k < taskCount; k++)
        {
            weights[k] = Math.Exp(rates[k] / temperature - largest);
            sum += weights[k];
        }
        for (var k = 0; k < taskCount; k++)
        {
            weights[k] = taskCount * weights[k] / sum;
        }
        return weights;
    }

    /// <inheritdoc />
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateTag);
        writer.Write(_taskCount);
        writer.Write(_completedEpochs);
        writer.Write(_epochSteps);
        if (_taskCount > 0)
        {
            LossList.WriteArray(writer, _older);
            LossList.WriteArray(writer, _newer);
            LossList.WriteArray(writer, _epochSums);
        }
    }

    /// <inheritdoc />
    public void LoadState(BinaryReader reader)
    {
        StateFormat.ReadTag(reader, StateTag, "DWA");
        var taskCount = reader.ReadInt32();
        var completed = reader.ReadInt32();
        var steps = reader.ReadInt32();
        if (taskCount < 0 || completed < 0 || steps < 0 || (taskCount == 0 && (completed > 0 || steps > 0)))
        {
            throw new InvalidDataException($"Inconsistent DWA state: {taskCount} tasks, {completed} epochs, {steps} steps.");
        }
        if (taskCount == 0)
        {
            _taskCount = 0;
            _completedEpochs = 0;
            _epochSteps = 0;
            _older = _newer = _epochSums = [];
            _lastWeights = [];
            return;
        }
        var older = LossList.ReadArray(reader, completed >= 2 ? taskCount : 0, "DWA", "the averages of epoch t−2");
        var newer = LossList.ReadArray(reader, completed >= 1 ? taskCount : 0, "DWA", "the averages of epoch t−1");
        var sums = LossList.ReadArray(reader, taskCount, "DWA", "the running sums of the current epoch");
        _taskCount = taskCount;
        _completedEpochs = completed;
        _epochSteps = steps;
        _older = older;
        _newer = newer;
        _epochSums = sums;
        _lastWeights = [];
    }

    private void Start(int taskCount)
    {
        _taskCount = taskCount;
        _epochSums = new double[taskCount];
    }

    private double[] Weights() => _completedEpochs < 2
        ? [.. Enumerable.Repeat(1.0, _taskCount)]
        : WeightsFromAverages(_newer, _older, Temperature);
}
