namespace GradientSurgery.Experiments.Synthetic;

/// <summary>The size and schedule of the synthetic multi-task regression benchmark.</summary>
/// <param name="Tasks">Number of tasks T (≥ 2).</param>
/// <param name="InputSize">Input dimension.</param>
/// <param name="HiddenSize">Width of the trunk's hidden layer.</param>
/// <param name="FeatureSize">Width of the trunk's output (a bottleneck the tasks must share).</param>
/// <param name="OutputSize">Output dimension of every task.</param>
/// <param name="TrainSize">Training examples.</param>
/// <param name="TestSize">Test examples.</param>
/// <param name="Steps">Optimiser steps.</param>
/// <param name="BatchSize">Examples per step.</param>
/// <param name="LearningRate">Adam's learning rate.</param>
/// <param name="EvaluateEvery">Steps between test evaluations (and logged rows).</param>
/// <param name="TaskSpread">Size of each task's own component relative to the common one (how much tasks differ).</param>
/// <param name="LargestScale">σ of the last task; σ_i grows geometrically from 1 to this value.</param>
public sealed record SyntheticConfig(
    int Tasks = 4,
    int InputSize = 16,
    int HiddenSize = 32,
    int FeatureSize = 8,
    int OutputSize = 8,
    int TrainSize = 2048,
    int TestSize = 1024,
    int Steps = 1500,
    int BatchSize = 64,
    double LearningRate = 1e-3,
    int EvaluateEvery = 50,
    double TaskSpread = 1.0,
    double LargestScale = 30.0)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        static void Positive(int value, string name)
        {
            if (value <= 0)
            {
                throw new ArgumentException($"{name} must be positive, got {value}.");
            }
        }
        if (Tasks < 2)
        {
            throw new ArgumentException($"Tasks must be at least 2, got {Tasks}.");
        }
        Positive(InputSize, nameof(InputSize));
        Positive(HiddenSize, nameof(HiddenSize));
        Positive(FeatureSize, nameof(FeatureSize));
        Positive(OutputSize, nameof(OutputSize));
        Positive(TrainSize, nameof(TrainSize));
        Positive(TestSize, nameof(TestSize));
        Positive(Steps, nameof(Steps));
        Positive(BatchSize, nameof(BatchSize));
        Positive(EvaluateEvery, nameof(EvaluateEvery));
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
        {
            throw new ArgumentException($"LearningRate must be a positive finite number, got {LearningRate}.");
        }
        if (!(TaskSpread >= 0) || !double.IsFinite(TaskSpread))
        {
            throw new ArgumentException($"TaskSpread must be a non-negative finite number, got {TaskSpread}.");
        }
        if (!(LargestScale >= 1) || !double.IsFinite(LargestScale))
        {
            throw new ArgumentException($"LargestScale must be at least 1, got {LargestScale}.");
        }
    }

    /// <summary>σ_i = LargestScale^(i/(T−1)): the per-task output scales.</summary>
    public double[] Scales => Enumerable.Range(0, Tasks).Select(i => Math.Pow(LargestScale, (double)i / (Tasks - 1))).ToArray();
}
