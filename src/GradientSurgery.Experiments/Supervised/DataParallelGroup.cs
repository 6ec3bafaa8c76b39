using System.Security.Cryptography;
using System.Text;
using GradientSurgery.Distributed;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>
/// What <see cref="MultiTaskTrainer{TModel}"/> asks of the ranks of a data-parallel run: who writes the run's files,
/// which rows of a global batch are this rank's, sums of counts, agreement to stop, and rank 0's checkpoint on every
/// rank. With no communicator it is a world of one, so that the trainer's loop reads the same for one process.
/// </summary>
internal sealed class DataParallelGroup(MpiCommunicator? world)
{
    /// <summary>This process's rank (0 for one process).</summary>
    public int Rank => world?.Rank ?? 0;

    /// <summary>The number of ranks.</summary>
    public int Size => world?.Size ?? 1;

    /// <summary>Rank 0 writes the run's files (settings, logs, TensorBoard, checkpoints, the final model).</summary>
    public bool Writes => Rank == 0;

    /// <summary>The communicator of a data-parallel run, null for one process.</summary>
    public MpiCommunicator? World => world;

    /// <summary>
    /// Refuses global batches that the ranks cannot share evenly (every batch of an epoch, the last shorter one too),
    /// then checks that every rank runs the same settings on the same data. Both fail alike on every rank.
    /// </summary>
    public void CheckStart(TrainingSettings settings, IMultiTaskData train)
    {
        if (world is null)
        {
            return;
        }
        var last = train.Count % settings.BatchSize;
        if (settings.BatchSize % Size != 0 || last % Size != 0)
        {
            throw new ArgumentException(
                $"{Size} ranks cannot share the global batches evenly: --batch-size {settings.BatchSize} and the last batch of each epoch ({(last == 0 ? settings.BatchSize : last)} of {train.Count:N0} examples) must both be multiples of {Size}. Change --batch-size or --limit.");
        }
        var description = $"{settings with { DataDirectory = null }} examples {train.Count} data {DataFingerprint(train)}";
        world.VerifySame("training settings and data", description, "seed, method, batch size, epochs or the data differ");
    }

    /// <summary>This rank's rows of a global batch of <paramref name="globalLength"/> examples: (offset, length).</summary>
    public (long Offset, long Length) Shard(long globalLength)
    {
        var length = globalLength / Size;
        return (Rank * length, length);
    }

    /// <summary>This rank's part of a data set of <paramref name="count"/> examples for evaluation (contiguous, sizes differing by at most one).</summary>
    public (long Offset, long Length) Part(long count)
    {
        long Start(int rank) => count * rank / Size;
        return (Start(Rank), Start(Rank + 1) - Start(Rank));
    }

    /// <summary>Sums the values over the ranks, in place (exact for counts below 2⁵³).</summary>
    public void Sum(double[] values) => world?.AllReduceSum(values);

    /// <summary>Waits for every rank (e.g. for rank 0 to finish a checkpoint before the job ends on an error).</summary>
    public void Barrier() => world?.Barrier();

    /// <summary>Whether to stop after this step: every rank stops at the same step when any rank was asked to (Ctrl+C, SIGTERM).</summary>
    public bool Stop(bool stopHere) => world is null ? stopHere : world.AllReduceMax(stopHere ? 1 : 0) == 1;

    /// <summary>
    /// Rank 0's checkpoint sections on every rank: rank 0 reads the file (other machines need not see it) and
    /// broadcasts them. When rank 0 cannot read it, every rank throws: rank 0 its own error, the others one that
    /// points at rank 0's.
    /// </summary>
    public IReadOnlyDictionary<string, byte[]> Checkpoint(Func<IReadOnlyDictionary<string, byte[]>> read)
    {
        if (world is null)
        {
            return read();
        }
        IReadOnlyDictionary<string, byte[]>? sections = null;
        Exception? failure = null;
        byte[] packed = [];
        if (Writes)
        {
            try
            {
                sections = read();
                packed = Pack(sections);
            }
            catch (Exception error) when (error is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
            {
                failure = error;
            }
        }
        long[] length = [failure is null ? packed.Length : -1];
        world.Broadcast<long>(length, root: 0);
        if (length[0] < 0)
        {
            throw failure ?? new InvalidDataException("Rank 0 could not read the checkpoint to resume from (see rank 0's message).");
        }
        if (!Writes)
        {
            packed = new byte[length[0]];
        }
        world.Broadcast<byte>(packed, root: 0);
        return sections ?? Unpack(packed);
    }

    private static string DataFingerprint(IMultiTaskData data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var tensor in data.Targets.Prepend(data.Inputs))
        {
            using var values = tensor.contiguous();
            hash.AppendData(values.bytes);
        }
        return Convert.ToHexString(hash.GetHashAndReset())[..16];
    }

    private static byte[] Pack(IReadOnlyDictionary<string, byte[]> sections)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8))
        {
            writer.Write(sections.Count);
            foreach (var (name, data) in sections)
            {
                writer.Write(name);
                writer.Write(data.Length);
                writer.Write(data);
            }
        }
        return stream.ToArray();
    }

    private static Dictionary<string, byte[]> Unpack(byte[] packed)
    {
        using var reader = new BinaryReader(new MemoryStream(packed), Encoding.UTF8);
        var sections = new Dictionary<string, byte[]>();
        for (var count = reader.ReadInt32(); count > 0; count--)
        {
            var name = reader.ReadString();
            sections[name] = reader.ReadBytes(reader.ReadInt32());
        }
        return sections;
    }
}
