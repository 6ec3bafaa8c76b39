using GradientSurgery.Diagnostics;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>Running sums of one epoch; part of the checkpoint so that an epoch interrupted half-way reports the same numbers.</summary>
internal sealed class EpochAccumulator(int tasks)
{
    private readonly double[] _loss = new double[tasks];
    private readonly long[] _correct = new long[tasks];
    // Examples with a label, per task (all of them unless some carry −1).
    private readonly long[] _labelled = new long[tasks];
    private long _examples;
    private int _steps;
    private double _seconds;
    private readonly ConflictAverages _conflicts = new();

    /// <summary>Adds one step; <paramref name="conflicts"/> is null when the step measured none (a loss weighting's step).</summary>
    public void Add(double[] losses, ConflictReport? conflicts, long[] correct, long[] labelled, long examples, double seconds)
    {
        _steps++;
        _examples += examples;
        _seconds += seconds;
        for (var t = 0; t < _loss.Length; t++)
        {
            _loss[t] += losses[t];
            _correct[t] += correct[t];
            _labelled[t] += labelled[t];
        }
        _conflicts.Add(conflicts);
    }

    public EpochMetrics Close(int epoch, TaskEvaluation test) => new(
        epoch,
        [.. _loss.Select(l => _steps == 0 ? double.NaN : l / _steps)],
        [.. _correct.Select((c, t) => _labelled[t] == 0 ? double.NaN : (double)c / _labelled[t])],
        test.Loss, test.Accuracy,
        _conflicts.ConflictFraction, _conflicts.MeanCosine, _conflicts.MagnitudeSimilarity, _conflicts.Curvature, _seconds, test.Metrics);

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
        writer.Write(_seconds);
        _conflicts.Save(writer);
        // Last, so that checkpoints written before per-task counts existed still load (their counts are all examples).
        foreach (var v in _labelled)
        {
            writer.Write(v);
        }
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
        _seconds = reader.ReadDouble();
        _conflicts.Load(reader);
        var counted = reader.BaseStream.Position < reader.BaseStream.Length;
        for (var t = 0; t < tasks; t++)
        {
            _labelled[t] = counted ? reader.ReadInt64() : _examples;
        }
    }
}
