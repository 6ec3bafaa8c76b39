using GradientSurgery.Diagnostics;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>Running sums of one epoch; part of the checkpoint so that an epoch interrupted half-way reports the same numbers.</summary>
internal sealed class EpochAccumulator(int tasks)
{
    private readonly double[] _loss = new double[tasks];
    private readonly long[] _correct = new long[tasks];
    private long _examples;
    private int _steps;
    private double _conflict, _cosine, _similarity, _curvature, _seconds;
    private int _pairSteps, _curvatureSteps;

    /// <summary>Adds one step; <paramref name="conflicts"/> is null when the step measured none (a loss weighting's step).</summary>
    public void Add(double[] losses, ConflictReport? conflicts, long[] correct, long examples, double seconds)
    {
        _steps++;
        _examples += examples;
        _seconds += seconds;
        for (var t = 0; t < _loss.Length; t++)
        {
            _loss[t] += losses[t];
            _correct[t] += correct[t];
        }
        if (conflicts?.MeanCosine is { } cosine)
        {
            _pairSteps++;
            _cosine += cosine;
            _conflict += conflicts.ConflictFraction ?? 0;
        }
        if (conflicts?.MeanMagnitudeSimilarity is { } similarity)
        {
            _similarity += similarity;
        }
        if (conflicts?.MeanCurvature is { } curvature)
        {
            _curvatureSteps++;
            _curvature += curvature;
        }
    }

    public EpochMetrics Close(int epoch, double[] testLoss, double[] testAccuracy) => new(
        epoch,
        [.. _loss.Select(l => _steps == 0 ? double.NaN : l / _steps)],
        [.. _correct.Select(c => _examples == 0 ? double.NaN : (double)c / _examples)],
        testLoss, testAccuracy,
        Mean(_conflict, _pairSteps), Mean(_cosine, _pairSteps), Mean(_similarity, _pairSteps), Mean(_curvature, _curvatureSteps), _seconds);

    public void Save(BinaryWriter writer)
    {
        writer.Write(_loss.Length);
        foreach (var v in _loss)
        {
            writer.Write(v);
        }
        foreach (var v in _correct)
        {
            writer.Write(v);
        }
        writer.Write(_examples);
        writer.Write(_steps);
        writer.Write(_conflict);
        writer.Write(_cosine);
        writer.Write(_similarity);
        writer.Write(_curvature);
        writer.Write(_seconds);
        writer.Write(_pairSteps);
        writer.Write(_curvatureSteps);
    }

    public void Load(BinaryReader reader)
    {
        var tasks = reader.ReadInt32();
        if (tasks != _loss.Length)
        {
            throw new InvalidDataException($"The checkpoint's epoch sums are for {tasks} tasks, the model has {_loss.Length}.");
        }
        for (var t = 0; t < tasks; t++)
        {
            _loss[t] = reader.ReadDouble();
        }
        for (var t = 0; t < tasks; t++)
        {
            _correct[t] = reader.ReadInt64();
        }
        _examples = reader.ReadInt64();
        _steps = reader.ReadInt32();
        _conflict = reader.ReadDouble();
        _cosine = reader.ReadDouble();
        _similarity = reader.ReadDouble();
        _curvature = reader.ReadDouble();
        _seconds = reader.ReadDouble();
        _pairSteps = reader.ReadInt32();
        _curvatureSteps = reader.ReadInt32();
    }

    private static double Mean(double sum, int count) => count == 0 ? double.NaN : sum / count;
}
