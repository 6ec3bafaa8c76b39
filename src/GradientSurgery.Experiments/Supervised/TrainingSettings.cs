namespace GradientSurgery.Experiments.Supervised;

/// <summary>Everything that determines a supervised run; stored in its checkpoints and in run.json.</summary>
/// <param name="Benchmark">Name of the data set (e.g. multimnist).</param>
/// <param name="Method">Method specification: an aggregator or a loss weighting (see <see cref="MethodCatalog"/>), e.g. <c>pcgrad</c> or <c>famo:gamma=0.01</c>.</param>
/// <param name="Epochs">Epochs to train (may be raised when resuming).</param>
/// <param name="BatchSize">Examples per step.</param>
/// <param name="LearningRate">Adam's learning rate.</param>
/// <param name="Seed">Seed of initial weights, shuffling, dropout and the method.</param>
/// <param name="TrainExamples">Training examples used (the first ones of the split when limited).</param>
/// <param name="DataDirectory">Where the source data was read from (informative: a resumed run may read it elsewhere).</param>
/// <param name="Architecture">The network, one of <c>Architectures.Names</c> (runs written before there was a choice trained MultiLeNet, "hps").</param>
/// <param name="Filters">
/// NYUv2's dense networks only: the SegNet widths per level, comma-separated (e.g. "64,128,256,512,512", MTAN's); null for
/// <c>SegNetBackbone.DefaultFilters</c> (and for every other benchmark).
/// </param>
public sealed record TrainingSettings(
    string Benchmark, string Method, int Epochs, int BatchSize, double LearningRate, long Seed, long TrainExamples, string? DataDirectory = null,
    string Architecture = "hps", string? Filters = null)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (Epochs <= 0)
        {
            throw new ArgumentException($"Epochs must be positive, got {Epochs}.");
        }
        if (BatchSize <= 0)
        {
            throw new ArgumentException($"The batch size must be positive, got {BatchSize}.");
        }
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
        {
            throw new ArgumentException($"The learning rate must be a positive number, got {LearningRate}.");
        }
    }

    /// <summary>Whether a checkpoint written under <paramref name="other"/> may be continued under these settings (only the epoch count and data location may differ).</summary>
    public bool CanResume(TrainingSettings other) => this with { Epochs = 0, DataDirectory = null } == other with { Epochs = 0, DataDirectory = null };
}
