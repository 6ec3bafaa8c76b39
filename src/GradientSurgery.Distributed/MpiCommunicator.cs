using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Distributed;

/// <summary>
/// The world communicator of this process: every process that <c>mpirun</c> started, ranked 0 to
/// <see cref="Size"/> − 1. Holds MPI's process-wide state from <see cref="Initialize"/> to <see cref="Dispose"/>.
/// </summary>
/// <remarks>
/// <para>Collectives follow MPI's rules: every rank calls the same collectives in the same order with matching
/// lengths (a rank that does not, or that passes another length, hangs the job or makes MPI fail). The binding checks
/// what it can see locally (lengths against <see cref="Size"/>, buffers that overlap, tensor layouts) and throws before
/// calling MPI; <see cref="VerifySame(string, ReadOnlySpan{byte}, string?)"/> checks agreement across ranks once at
/// start-up. MPI_THREAD_MULTIPLE is requested, so calls may come from any thread, but collectives on one communicator
/// must still not run concurrently from several threads (their order would differ between ranks).</para>
/// <para>Large collectives are split into buckets of <see cref="DefaultBucketBytes"/> (a parameter): Open MPI's
/// default algorithms slow down sharply above about 24 MB on loopback (0.2–0.4 GB/s at 40 MB against 1–7 GB/s at
/// 4 MB, measured on this project's machine).</para>
/// <para>Every return code is checked: MPI is told to return errors (MPI_ERRORS_RETURN) rather than abort, and a
/// failed call throws <see cref="MpiException"/> with the call's name and MPI's text.</para>
/// </remarks>
public sealed unsafe class MpiCommunicator : IDisposable
{
    /// <summary>The default size of one collective call on large buffers: 8 MiB.</summary>
    public const long DefaultBucketBytes = 8L << 20;

    // MPI_Init may run once per process, even after MPI_Finalize: remember that it did.
    private static int s_initialized;

    private readonly MpiNative _native;
    private readonly MpiConstants _constants;
    private readonly nint _world;
    private int _disposed;

    private MpiCommunicator(MpiNative native, int rank, int size, bool threadMultiple)
    {
        _native = native;
        _constants = native.Constants;
        _world = native.Constants.CommWorld.Value;
        Rank = rank;
        Size = size;
        ThreadMultiple = threadMultiple;
    }

    // No finalizer: MPI_Finalize is collective and must run on a thread that MPI knows, at the same point of the
    // program on every rank; called from the GC's finalizer thread at an arbitrary moment it could block forever.
    // A process that ends without Dispose is reported by mpirun, which ends the job.

    /// <summary>This process's rank in the world, 0 to <see cref="Size"/> − 1.</summary>
    public int Rank { get; }

    /// <summary>The number of processes in the world (1 when the process was not started by mpirun).</summary>
    public int Size { get; }

    /// <summary>Whether MPI granted MPI_THREAD_MULTIPLE (Open MPI 4.1 does).</summary>
    public bool ThreadMultiple { get; }

    /// <summary>The MPI implementation in use.</summary>
    public MpiImplementation Implementation => _constants.Implementation;

    /// <summary>
    /// Initialises MPI (MPI_Init_thread, requesting MPI_THREAD_MULTIPLE) and returns the world communicator. Under
    /// mpirun each process gets its rank; started directly, Open MPI makes the process a world of size 1.
    /// </summary>
    /// <exception cref="MpiUnavailableException">No MPI library is installed.</exception>
    /// <exception cref="InvalidOperationException">MPI was already initialised in this process (MPI allows it once).</exception>
    /// <exception cref="MpiException">MPI failed to start.</exception>
    public static MpiCommunicator Initialize()
    {
        var native = MpiLibrary.Native;
        if (Interlocked.Exchange(ref s_initialized, 1) != 0)
        {
            throw new InvalidOperationException("MPI can be initialised only once per process: use the communicator that MpiCommunicator.Initialize returned the first time.");
        }
        int flag;
        Check(native, "MPI_Initialized", native.Initialized(&flag));
        if (flag != 0)
        {
            throw new InvalidOperationException("MPI was already initialised in this process by other code; MpiCommunicator must do it.");
        }
        int provided;
        Check(native, "MPI_Init_thread", native.InitThread(null, null, MpiConstants.ThreadMultiple, &provided));
        var world = native.Constants.CommWorld.Value;
        // Errors come back as codes (turned into MpiException) instead of aborting the job inside MPI.
        Check(native, "MPI_Comm_set_errhandler", native.CommSetErrhandler(world, native.Constants.ErrorsReturn.Value));
        int rank, size;
        Check(native, "MPI_Comm_rank", native.CommRank(world, &rank));
        Check(native, "MPI_Comm_size", native.CommSize(world, &size));
        return new MpiCommunicator(native, rank, size, provided >= MpiConstants.ThreadMultiple);
    }

    /// <summary>Waits until every rank has called it (MPI_Barrier).</summary>
    public void Barrier()
    {
        ThrowIfDisposed();
        Check("MPI_Barrier", _native.Barrier(_world));
    }

    /// <summary>Replaces <paramref name="data"/> on every rank by the element-wise sum over ranks, in place, in buckets.</summary>
    /// <param name="data">The same length on every rank.</param>
    /// <param name="bucketBytes">The most bytes one MPI_Allreduce carries.</param>
    public void AllReduceSum(Span<double> data, long bucketBytes = DefaultBucketBytes)
    {
        ThrowIfDisposed();
        fixed (double* p = data)
        {
            AllReduceInPlace(p, data.Length, sizeof(double), _constants.Double.Value, bucketBytes);
        }
    }

    /// <inheritdoc cref="AllReduceSum(Span{double}, long)"/>
    public void AllReduceSum(Span<float> data, long bucketBytes = DefaultBucketBytes)
    {
        ThrowIfDisposed();
        fixed (float* p = data)
        {
            AllReduceInPlace(p, data.Length, sizeof(float), _constants.Float.Value, bucketBytes);
        }
    }

    /// <summary>
    /// Replaces the values of a contiguous CPU float32 or float64 tensor by their sum over ranks, in place in its
    /// memory (no copy), in buckets. The write bypasses autograd: use it on gradients or under <c>no_grad</c>, never on
    /// a tensor that a pending backward has saved.
    /// </summary>
    /// <param name="tensor">The same shape and dtype on every rank.</param>
    /// <param name="bucketBytes">The most bytes one MPI_Allreduce carries.</param>
    /// <exception cref="ArgumentException">The tensor is not on the CPU, not contiguous, or neither float32 nor float64.</exception>
    public void AllReduceSum(Tensor tensor, long bucketBytes = DefaultBucketBytes)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ThrowIfDisposed();
        var dtype = tensor.dtype;
        var contiguous = tensor.is_contiguous();
        if (tensor.device_type != DeviceType.CPU || !contiguous || (dtype != ScalarType.Float32 && dtype != ScalarType.Float64))
        {
            throw new ArgumentException(
                $"AllReduceSum needs a contiguous CPU float32 or float64 tensor; this one has shape [{string.Join(", ", tensor.shape)}], device {tensor.device}, dtype {dtype}{(contiguous ? "" : ", and is not contiguous")}.",
                nameof(tensor));
        }
        var count = tensor.numel();
        if (count == 0)
        {
            return;
        }
        // The address of the first element, from a one-element view (Tensor.bytes is limited to 2 GiB spans): a
        // contiguous tensor's elements follow it, and libtorch does not move them while the tensor is alive.
        using var flat = tensor.reshape(-1);
        using var first = flat.narrow(0, 0, 1);
        var data = Unsafe.AsPointer(ref MemoryMarshal.GetReference(first.bytes));
        if (dtype == ScalarType.Float32)
        {
            AllReduceInPlace(data, count, sizeof(float), _constants.Float.Value, bucketBytes);
        }
        else
        {
            AllReduceInPlace(data, count, sizeof(double), _constants.Double.Value, bucketBytes);
        }
        GC.KeepAlive(tensor);
    }

    /// <summary>The largest <paramref name="value"/> over ranks, on every rank.</summary>
    public long AllReduceMax(long value)
    {
        ThrowIfDisposed();
        long result;
        Check("MPI_Allreduce", _native.Allreduce(&value, &result, 1, _constants.Int64.Value, _constants.Max.Value, _world));
        return result;
    }

    /// <summary>
    /// Sums <paramref name="send"/> over ranks and leaves block <see cref="Rank"/> of the sum on this rank
    /// (MPI_Reduce_scatter_block): <paramref name="send"/> is <see cref="Size"/> blocks of <paramref name="receive"/>'s
    /// length, and rank r receives the sum of every rank's block r.
    /// </summary>
    /// <param name="send">Size × n values, the same n on every rank; left unchanged.</param>
    /// <param name="receive">n values; must not overlap <paramref name="send"/>.</param>
    /// <param name="bucketBytes">The most bytes one MPI call carries: above it, each block is sent in parts of
    /// bucketBytes / Size, staged through a buffer of at most bucketBytes.</param>
    public void ReduceScatterBlockSum(ReadOnlySpan<double> send, Span<double> receive, long bucketBytes = DefaultBucketBytes) =>
        ReduceScatterBlock(send, receive, _constants.Double.Value, bucketBytes);

    /// <inheritdoc cref="ReduceScatterBlockSum(ReadOnlySpan{double}, Span{double}, long)"/>
    public void ReduceScatterBlockSum(ReadOnlySpan<float> send, Span<float> receive, long bucketBytes = DefaultBucketBytes) =>
        ReduceScatterBlock(send, receive, _constants.Float.Value, bucketBytes);

    /// <summary>
    /// Gathers every rank's equal-length block on every rank (MPI_Allgather): <paramref name="receive"/> holds rank r's
    /// <paramref name="send"/> at r × n.
    /// </summary>
    /// <param name="send">n values, the same n on every rank.</param>
    /// <param name="receive">Size × n values; must not overlap <paramref name="send"/>.</param>
    /// <param name="bucketBytes">The most bytes one MPI call carries: above it, blocks are gathered in parts of
    /// bucketBytes / Size, staged through a buffer of at most bucketBytes.</param>
    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive, long bucketBytes = DefaultBucketBytes)
        where T : unmanaged
    {
        ThrowIfDisposed();
        var n = send.Length;
        CheckBlocks(nameof(AllGather), receive.Length, n, "receive", "send");
        CheckDisjoint(send, receive);
        var perBucket = ElementsPerBlockPerBucket<T>(bucketBytes, n);
        if (perBucket >= n)
        {
            fixed (T* s = send)
            fixed (T* r = receive)
            {
                Check("MPI_Allgather", _native.Allgather(s, n * sizeof(T), _constants.Byte.Value, r, n * sizeof(T), _constants.Byte.Value, _world));
            }
            return;
        }
        var staging = ArrayPool<T>.Shared.Rent(perBucket * Size);
        try
        {
            for (var start = 0; start < n; start += perBucket)
            {
                var m = Math.Min(perBucket, n - start);
                fixed (T* s = send.Slice(start, m))
                fixed (T* r = staging)
                {
                    Check("MPI_Allgather", _native.Allgather(s, m * sizeof(T), _constants.Byte.Value, r, m * sizeof(T), _constants.Byte.Value, _world));
                }
                for (var rank = 0; rank < Size; rank++)
                {
                    staging.AsSpan(rank * m, m).CopyTo(receive.Slice(rank * n + start, m));
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(staging);
        }
    }

    /// <summary>
    /// Gathers blocks of different lengths on every rank (MPI_Allgatherv, in one call): rank r contributes
    /// <paramref name="counts"/>[r] values, placed in rank order.
    /// </summary>
    /// <param name="send">This rank's values: <paramref name="counts"/>[<see cref="Rank"/>] of them.</param>
    /// <param name="receive">The sum of <paramref name="counts"/> values; must not overlap <paramref name="send"/>.</param>
    /// <param name="counts">Every rank's length, the same on every rank (e.g. all-gathered first).</param>
    public void AllGatherV<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts)
        where T : unmanaged
    {
        ThrowIfDisposed();
        if (counts.Length != Size)
        {
            throw new ArgumentException($"AllGatherV needs one count per rank ({Size}); got {counts.Length}.", nameof(counts));
        }
        if (counts[Rank] != send.Length)
        {
            throw new ArgumentException($"AllGatherV: counts[{Rank}] is {counts[Rank]} but this rank sends {send.Length} values.", nameof(counts));
        }
        CheckDisjoint(send, receive);
        var byteCounts = new int[Size];
        var displacements = new int[Size];
        long total = 0;
        for (var rank = 0; rank < Size; rank++)
        {
            if (counts[rank] < 0)
            {
                throw new ArgumentException($"AllGatherV: counts[{rank}] is negative ({counts[rank]}).", nameof(counts));
            }
            // MPI counts and displacements are ints: in bytes (MPI_BYTE), the whole gather must stay below 2 GiB.
            var bytes = (long)counts[rank] * sizeof(T);
            if (total + bytes > int.MaxValue)
            {
                throw new ArgumentException("AllGatherV gathers at most 2 GiB in one call.", nameof(counts));
            }
            displacements[rank] = (int)total;
            byteCounts[rank] = (int)bytes;
            total += bytes;
        }
        if (total != (long)receive.Length * sizeof(T))
        {
            throw new ArgumentException($"AllGatherV: receive has {receive.Length} values but the counts add up to {total / sizeof(T)}.", nameof(receive));
        }
        fixed (T* s = send)
        fixed (T* r = receive)
        fixed (int* c = byteCounts)
        fixed (int* d = displacements)
        {
            Check("MPI_Allgatherv", _native.Allgatherv(s, send.Length * sizeof(T), _constants.Byte.Value, r, c, d, _constants.Byte.Value, _world));
        }
    }

    /// <summary>Copies <paramref name="root"/>'s <paramref name="data"/> to every rank (MPI_Bcast), in buckets.</summary>
    /// <param name="data">The same length on every rank; overwritten on every rank but the root.</param>
    /// <param name="root">The rank whose data is sent.</param>
    /// <param name="bucketBytes">The most bytes one MPI_Bcast carries.</param>
    public void Broadcast<T>(Span<T> data, int root, long bucketBytes = DefaultBucketBytes)
        where T : unmanaged
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        var bytes = MemoryMarshal.AsBytes(data);
        var perBucket = (int)Math.Min(CheckBucket(bucketBytes, 1), int.MaxValue);
        fixed (byte* p = bytes)
        {
            for (var start = 0; start < bytes.Length; start += perBucket)
            {
                Check("MPI_Bcast", _native.Bcast(p + start, Math.Min(perBucket, bytes.Length - start), _constants.Byte.Value, root, _world));
            }
        }
    }

    /// <summary>
    /// Checks that every rank passed the same fingerprint (e.g. a SHA-256 of its settings and parameter shapes), so
    /// that a mismatch fails at start-up with a message instead of hanging later in a collective. The fingerprints are
    /// all-gathered (their lengths first, so they may differ in length too) and every rank reaches the same verdict.
    /// </summary>
    /// <param name="what">What the fingerprint stands for, for the message, e.g. "settings".</param>
    /// <param name="fingerprint">This rank's fingerprint.</param>
    /// <param name="detail">What may differ, appended to the message in parentheses, e.g. "seed, task count or parameter shapes differ".</param>
    /// <exception cref="InvalidOperationException">On every rank, when any rank's fingerprint differs from rank 0's;
    /// the message names <paramref name="what"/> and the ranks that differ.</exception>
    public void VerifySame(string what, ReadOnlySpan<byte> fingerprint, string? detail = null)
    {
        ArgumentNullException.ThrowIfNull(what);
        ThrowIfDisposed();
        var lengths = new long[Size];
        AllGather<long>([fingerprint.Length], lengths);
        if (lengths.Sum() > int.MaxValue)
        {
            throw new ArgumentException("VerifySame takes fingerprints of at most 2 GiB in all; pass a hash.", nameof(fingerprint));
        }
        var counts = lengths.Select(length => (int)length).ToArray();
        var all = new byte[counts.Sum()];
        AllGatherV(fingerprint, all, counts);
        var reference = all.AsSpan(0, counts[0]);
        var differing = new List<int>();
        for (int rank = 1, offset = counts[0]; rank < Size; offset += counts[rank], rank++)
        {
            if (!all.AsSpan(offset, counts[rank]).SequenceEqual(reference))
            {
                differing.Add(rank);
            }
        }
        if (differing.Count > 0)
        {
            var who = differing.Count == 1
                ? $"rank {differing[0]} has another fingerprint"
                : $"ranks {string.Join(", ", differing)} have other fingerprints";
            throw new InvalidOperationException(
                $"The {what} differ between ranks: {who} than rank 0{(detail is null ? "" : $" ({detail})")}.");
        }
    }

    /// <summary>
    /// <see cref="VerifySame(string, ReadOnlySpan{byte}, string?)"/> on the SHA-256 of <paramref name="description"/>'s
    /// UTF-8 text (e.g. the settings and parameter shapes written out).
    /// </summary>
    public void VerifySame(string what, string description, string? detail = null)
    {
        ArgumentNullException.ThrowIfNull(description);
        VerifySame(what, SHA256.HashData(Encoding.UTF8.GetBytes(description)), detail);
    }

    /// <summary>
    /// Ends every process of the job (MPI_Abort) with <paramref name="code"/> as the exit code mpirun reports; for a
    /// rank that cannot continue while the others wait in a collective. Does not return.
    /// </summary>
    [DoesNotReturn]
    public void Abort(int code)
    {
        if (_disposed != 0)
        {
            // MPI may not be called after MPI_Finalize; this process's exit code is all that is left to report.
            Environment.Exit(code);
        }
        var result = _native.Abort(_world, code);
        // MPI_Abort returns only if it failed; ending this process still ends the job (mpirun sees a rank die).
        Console.Error.WriteLine($"MPI_Abort returned {result} ({_native.DescribeError(result)}); exiting with {code}.");
        Environment.Exit(code);
        throw new UnreachableException();
    }

    /// <summary>Finalises MPI (MPI_Finalize, collective: every rank disposes at the same point). Idempotent.</summary>
    /// <exception cref="MpiException">MPI_Finalize failed.</exception>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        int finalized;
        Check("MPI_Finalized", _native.Finalized(&finalized));
        if (finalized == 0)
        {
            Check("MPI_Finalize", _native.Finalize());
        }
    }

    private void AllReduceInPlace(void* data, long count, int elementSize, nint type, long bucketBytes)
    {
        var perBucket = Math.Min(CheckBucket(bucketBytes, elementSize) / elementSize, int.MaxValue);
        for (long start = 0; start < count; start += perBucket)
        {
            var n = (int)Math.Min(perBucket, count - start);
            Check("MPI_Allreduce", _native.Allreduce((void*)_constants.InPlace, (byte*)data + start * elementSize, n, type, _constants.Sum.Value, _world));
        }
    }

    private void ReduceScatterBlock<T>(ReadOnlySpan<T> send, Span<T> receive, nint type, long bucketBytes)
        where T : unmanaged
    {
        ThrowIfDisposed();
        var n = receive.Length;
        CheckBlocks(nameof(ReduceScatterBlockSum), send.Length, n, "send", "receive");
        CheckDisjoint(send, receive);
        var perBucket = ElementsPerBlockPerBucket<T>(bucketBytes, n);
        if (perBucket >= n)
        {
            fixed (T* s = send)
            fixed (T* r = receive)
            {
                Check("MPI_Reduce_scatter_block", _native.ReduceScatterBlock(s, r, n, type, _constants.Sum.Value, _world));
            }
            return;
        }
        // Part [start, start + m) of every block, side by side in the staging buffer, makes one smaller reduce-scatter
        // whose result is part [start, start + m) of this rank's block.
        var staging = ArrayPool<T>.Shared.Rent(perBucket * Size);
        try
        {
            for (var start = 0; start < n; start += perBucket)
            {
                var m = Math.Min(perBucket, n - start);
                for (var rank = 0; rank < Size; rank++)
                {
                    send.Slice(rank * n + start, m).CopyTo(staging.AsSpan(rank * m, m));
                }
                fixed (T* s = staging)
                fixed (T* r = receive.Slice(start, m))
                {
                    Check("MPI_Reduce_scatter_block", _native.ReduceScatterBlock(s, r, m, type, _constants.Sum.Value, _world));
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(staging);
        }
    }

    /// <summary>How many elements of each rank's block one bucket carries, so that all blocks' parts fit in it.</summary>
    private int ElementsPerBlockPerBucket<T>(long bucketBytes, int blockLength)
        where T : unmanaged
    {
        var perBucket = CheckBucket(bucketBytes, sizeof(T)) / sizeof(T) / Size;
        // At least one element per block, and MPI's int counts in bytes (MPI_BYTE) for the gather.
        return (int)Math.Clamp(perBucket, 1, Math.Max(1, Math.Min(blockLength, int.MaxValue / sizeof(T) / Size)));
    }

    private static long CheckBucket(long bucketBytes, int elementSize)
    {
        if (bucketBytes < elementSize)
        {
            throw new ArgumentOutOfRangeException(nameof(bucketBytes), bucketBytes, $"A bucket must hold at least one element ({elementSize} bytes).");
        }
        return bucketBytes;
    }

    private void CheckBlocks(string operation, int wholeLength, int blockLength, string whole, string block)
    {
        if ((long)blockLength * Size != wholeLength)
        {
            throw new ArgumentException(
                $"{operation}: {whole} must hold {Size} blocks of {block}'s length {blockLength} ({(long)blockLength * Size} values); it has {wholeLength}.",
                whole);
        }
    }

    private static void CheckDisjoint<T>(ReadOnlySpan<T> send, ReadOnlySpan<T> receive)
        where T : unmanaged
    {
        // MPI forbids aliased send and receive buffers (only MPI_IN_PLACE may share them).
        if (send.Overlaps(receive))
        {
            throw new ArgumentException("The send and receive buffers overlap; MPI needs separate buffers.", nameof(receive));
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed != 0, this);

    /// <summary>Throws <see cref="MpiException"/> naming <paramref name="call"/> unless <paramref name="code"/> is MPI_SUCCESS.</summary>
    internal void Check(string call, int code) => Check(_native, call, code);

    private static void Check(MpiNative native, string call, int code)
    {
        if (code != MpiConstants.Success)
        {
            throw new MpiException(call, code, native.DescribeError(code));
        }
    }
}
