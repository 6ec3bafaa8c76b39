namespace GradientSurgery.Models;

/// <summary>
/// Which rows of a global batch a forward pass sees: the shard of one rank in data-parallel training. Random layers
/// (<see cref="ShardedDropout"/>) draw their random numbers for the whole global batch and keep this shard's rows, so
/// that R ranks, whose generators start alike, draw together exactly what one process draws for the whole batch.
/// </summary>
public sealed class BatchShard
{
    /// <summary>The first row of this shard in the global batch.</summary>
    public long Offset { get; private set; }

    /// <summary>The global batch's size, or null when the forward pass sees the whole batch (one process).</summary>
    public long? GlobalSize { get; private set; }

    /// <summary>Selects the shard of the next forward passes.</summary>
    /// <param name="offset">The shard's first row in the global batch.</param>
    /// <param name="globalSize">The global batch's size.</param>
    public void Select(long offset, long globalSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(globalSize, offset);
        Offset = offset;
        GlobalSize = globalSize;
    }

    /// <summary>Forward passes see whole batches again.</summary>
    public void Clear()
    {
        Offset = 0;
        GlobalSize = null;
    }
}
