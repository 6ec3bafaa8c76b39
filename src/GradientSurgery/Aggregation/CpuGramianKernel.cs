using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// G = J Jᵀ for a contiguous float32 Jacobian in CPU memory, computing only the lower triangle and reading J once.
/// </summary>
/// <remarks>
/// Written by hand because neither TorchSharp nor any package it brings exposes a symmetric rank-k product (BLAS
/// <c>ssyrk</c>): <c>mm(J, Jᵀ)</c> computes both triangles and streams J from memory twice, which made the Gramian the
/// largest part of the surgery (docs/benchmarks.md). Columns are processed in cache-sized blocks; within a block each
/// 4×4 tile of task pairs accumulates 16-lane float32 partial sums in registers, which are added to float64 totals
/// at the end of the block. The columns are split into one fixed contiguous range per thread and the per-thread
/// totals are summed in range order, so the result does not depend on scheduling: it is deterministic for a given
/// thread count.
/// </remarks>
internal static unsafe class CpuGramianKernel
{
    private const int Tile = 4;

    // 40 tasks × 2048 floats = 320 KiB of J per block: stays in a core's L2 while every tile of task pairs reads it.
    private const int BlockColumns = 2048;

    // At most 32 column chunks, each with its own T×T sums; also bounds that scratch to 32·T² doubles.
    private const int MaxChunks = 32;

    /// <summary>Largest task count the kernel takes (its scratch is 32·T² doubles); above it the caller uses a matrix product.</summary>
    public const int MaxTasks = 256;

    /// <summary>True when <see cref="Compute"/> applies to <paramref name="jacobian"/> on this machine.</summary>
    public static bool Applies(Tensor jacobian) =>
        Vector512.IsHardwareAccelerated
        && jacobian.device_type == DeviceType.CPU
        && jacobian.dtype == ScalarType.Float32
        && jacobian.is_contiguous()
        && jacobian.shape[0] <= MaxTasks
        && jacobian.shape[1] * sizeof(float) <= int.MaxValue;

    /// <summary>The symmetric T×T Gramian in float64; the caller has checked <see cref="Applies"/>.</summary>
    public static double[,] Compute(Tensor jacobian)
    {
        var taskCount = (int)jacobian.shape[0];
        var columns = jacobian.shape[1];
        var padded = (taskCount + Tile - 1) / Tile * Tile;
        var rows = new nint[padded];
        using (var scope = NewDisposeScope())
        {
            for (var t = 0; t < taskCount; t++)
            {
                // A row of a contiguous CPU tensor: Tensor.bytes is a view of its native memory, which stays put for as
                // long as the Jacobian is alive.
                rows[t] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(jacobian[t].bytes));
            }
        }
        // Padding rows repeat row 0: their products are computed and discarded, which keeps the tile loop branch-free.
        for (var t = taskCount; t < padded; t++)
        {
            rows[t] = rows[0];
        }

        var vectorColumns = columns / Vector512<float>.Count * Vector512<float>.Count;
        var blocks = (vectorColumns + BlockColumns - 1) / BlockColumns;
        // No chunk at all when there are fewer columns than one vector: the scalar tail below does everything.
        var chunks = (int)Math.Min(blocks, MaxChunks);
        var blocksPerChunk = chunks == 0 ? 0 : (blocks + chunks - 1) / chunks;
        var area = padded * padded;
        var partial = ArrayPool<double>.Shared.Rent(chunks * area);
        Array.Clear(partial, 0, chunks * area);
        // Chunks are taken dynamically (a core may be busy, e.g. with libtorch's OpenMP worker still spinning after
        // the backward), but each has its own sums, added in chunk order below: the result depends on neither the
        // schedule nor the thread count.
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) }, chunk =>
        {
            var sums = partial.AsSpan(chunk * area, area);
            var end = Math.Min(vectorColumns, (chunk + 1) * blocksPerChunk * BlockColumns);
            for (var block = chunk * blocksPerChunk * BlockColumns; block < end; block += BlockColumns)
            {
                var length = (int)Math.Min(BlockColumns, end - block);
                for (var i = 0; i < padded; i += Tile)
                {
                    for (var j = 0; j <= i; j += Tile)
                    {
                        AccumulateTile(rows, i, j, block, length, sums, padded);
                    }
                }
            }
        });

        var gramian = new double[taskCount, taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var value = 0.0;
                for (var chunk = 0; chunk < chunks; chunk++)
                {
                    value += partial[chunk * area + i * padded + j];
                }
                // The last columns, fewer than one vector.
                for (var k = vectorColumns; k < columns; k++)
                {
                    value += (double)((float*)rows[i])[k] * ((float*)rows[j])[k];
                }
                gramian[i, j] = value;
                gramian[j, i] = value;
            }
        }
        ArrayPool<double>.Shared.Return(partial);
        return gramian;
    }

    /// <summary>Adds Σ_k J[i+a, k]·J[j+b, k] over the block to sums[(i+a)·n + j+b] for a, b in 0..3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateTile(nint[] rows, int i, int j, long block, int length, Span<double> sums, int n)
    {
        float* a0 = (float*)rows[i] + block, a1 = (float*)rows[i + 1] + block, a2 = (float*)rows[i + 2] + block, a3 = (float*)rows[i + 3] + block;
        float* b0 = (float*)rows[j] + block, b1 = (float*)rows[j + 1] + block, b2 = (float*)rows[j + 2] + block, b3 = (float*)rows[j + 3] + block;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        for (var k = 0; k < length; k += Vector512<float>.Count)
        {
            var y0 = Vector512.Load(b0 + k);
            var y1 = Vector512.Load(b1 + k);
            var y2 = Vector512.Load(b2 + k);
            var y3 = Vector512.Load(b3 + k);
            var x = Vector512.Load(a0 + k);
            c00 = Vector512.FusedMultiplyAdd(x, y0, c00);
            c01 = Vector512.FusedMultiplyAdd(x, y1, c01);
            c02 = Vector512.FusedMultiplyAdd(x, y2, c02);
            c03 = Vector512.FusedMultiplyAdd(x, y3, c03);
            x = Vector512.Load(a1 + k);
            c10 = Vector512.FusedMultiplyAdd(x, y0, c10);
            c11 = Vector512.FusedMultiplyAdd(x, y1, c11);
            c12 = Vector512.FusedMultiplyAdd(x, y2, c12);
            c13 = Vector512.FusedMultiplyAdd(x, y3, c13);
            x = Vector512.Load(a2 + k);
            c20 = Vector512.FusedMultiplyAdd(x, y0, c20);
            c21 = Vector512.FusedMultiplyAdd(x, y1, c21);
            c22 = Vector512.FusedMultiplyAdd(x, y2, c22);
            c23 = Vector512.FusedMultiplyAdd(x, y3, c23);
            x = Vector512.Load(a3 + k);
            c30 = Vector512.FusedMultiplyAdd(x, y0, c30);
            c31 = Vector512.FusedMultiplyAdd(x, y1, c31);
            c32 = Vector512.FusedMultiplyAdd(x, y2, c32);
            c33 = Vector512.FusedMultiplyAdd(x, y3, c33);
        }
        var row = i * n + j;
        sums[row] += Vector512.Sum(c00);
        sums[row + 1] += Vector512.Sum(c01);
        sums[row + 2] += Vector512.Sum(c02);
        sums[row + 3] += Vector512.Sum(c03);
        row += n;
        sums[row] += Vector512.Sum(c10);
        sums[row + 1] += Vector512.Sum(c11);
        sums[row + 2] += Vector512.Sum(c12);
        sums[row + 3] += Vector512.Sum(c13);
        row += n;
        sums[row] += Vector512.Sum(c20);
        sums[row + 1] += Vector512.Sum(c21);
        sums[row + 2] += Vector512.Sum(c22);
        sums[row + 3] += Vector512.Sum(c23);
        row += n;
        sums[row] += Vector512.Sum(c30);
        sums[row + 1] += Vector512.Sum(c31);
        sums[row + 2] += Vector512.Sum(c32);
        sums[row + 3] += Vector512.Sum(c33);
    }
}
