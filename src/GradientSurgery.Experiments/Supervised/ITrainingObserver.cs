namespace GradientSurgery.Experiments.Supervised;

/// <summary>Receives progress from <see cref="MultiTaskTrainer{TModel}"/> (the CLI draws progress bars with it).</summary>
public interface ITrainingObserver
{
    /// <summary>Training starts (or resumes) at <paramref name="epoch"/> (0-based) and batch <paramref name="batch"/>.</summary>
    void Started(int epoch, int batch, int batchesPerEpoch, bool resumed);

    /// <summary>A step of epoch <paramref name="epoch"/> (0-based) finished; <paramref name="batch"/> batches of it are done.</summary>
    void Stepped(int epoch, int batch);

    /// <summary>An epoch finished and was evaluated.</summary>
    void EpochFinished(EpochMetrics metrics);

    /// <summary>A checkpoint could not be used and another was taken instead.</summary>
    void Warning(string message);
}
