using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// G = J Jᵀ for a contiguous float32 Jacobian in CPU memory, computing one triangle and reading J once.
/// </summary>
/// <remarks>
/// Written by hand because neither TorchSharp nor any package it brings exposes a symmetric rank-k product (BLAS
/// <c>ssyrk</c>): <c>mm(J, Jᵀ)</c> computes both triangles and streams J from memory twice, which made the Gramian the
/// largest part of the surgery (docs/benchmarks.md). The kernel covers one triangle with tiles of task pairs (5×5 with
/// 512-bit vectors, 3×3 with 256-bit ones) over cache-sized column blocks; each tile keeps float32 vector sums in registers and adds them to float64 totals at
/// the end of every block (about 1000× closer to the float64 product than <c>mm</c> in float32). Blocks are grouped
/// into at most 32 chunks taken dynamically by the threads, each chunk with its own totals, which are added in chunk
/// order: the result depends neither on the schedule nor on the thread count.
/// </remarks>
internal static unsafe class CpuGramianKernel
{
    /// <summary>Largest task count taken (the scratch is 32·T² doubles); above it callers use a matrix product.</summary>
    public const int MaxTasks = 256;

    // 512-bit vectors (AVX-512, 32 registers) take 5×5 tiles of task pairs; 256-bit ones (AVX2, 16 registers) 3×3.
    private static readonly bool Wide = Vector512.IsHardwareAccelerated;
    private static readonly int Tile = Wide ? 5 : 3;
    private static readonly int Lanes = Wide ? Vector512<float>.Count : Vector256<float>.Count;
    private const int MaxChunks = 32;

    /// <summary>True when <see cref="Gramian"/> applies to <paramref name="jacobian"/> on this machine (it needs 256- or 512-bit vectors).</summary>
    public static bool Applies(Tensor jacobian) =>
        (Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated)
        && jacobian.device_type == DeviceType.CPU
        && jacobian.dtype == ScalarType.Float32
        && jacobian.is_contiguous()
        && jacobian.shape[0] <= MaxTasks
        && jacobian.shape[1] * sizeof(float) <= int.MaxValue;

    /// <summary>G = J Jᵀ in float64 for a Jacobian that satisfies <see cref="Applies"/>.</summary>
    public static double[,] Gramian(Tensor jacobian)
    {
        var taskCount = (int)jacobian.shape[0];
        var columns = jacobian.shape[1];
        var padded = (taskCount + Tile - 1) / Tile * Tile;
        var rows = new nint[padded];
        using (var scope = NewDisposeScope())
        {
            for (var t = 0; t < taskCount; t++)
            {
                // A row of a contiguous CPU tensor: Tensor.bytes is a view of its native memory, which libtorch never
                // moves while the Jacobian is alive.
                rows[t] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(jacobian[t].bytes));
            }
        }
        // Padding rows repeat row 0: their products are computed and discarded, which keeps the tile loop branch-free.
        for (var t = taskCount; t < padded; t++)
        {
            rows[t] = rows[0];
        }

        // 640 KiB of rows per block stays in a core's L2 cache while every tile of task pairs reads it.
        var blockColumns = Math.Clamp(163_840 / padded / 512 * 512, 512, 4096);
        var vectorColumns = columns / Lanes * Lanes;
        var blocks = (int)((vectorColumns + blockColumns - 1) / blockColumns);
        // No chunk at all when there are fewer columns than one vector: the scalar tail below does everything.
        var chunks = Math.Min(blocks, MaxChunks);
        var blocksPerChunk = chunks == 0 ? 0 : (blocks + chunks - 1) / chunks;
        var area = padded * padded;
        var partial = ArrayPool<double>.Shared.Rent(Math.Max(1, chunks * area));
        Array.Clear(partial, 0, chunks * area);
        // Chunks are taken dynamically: right after a backward, libtorch's OpenMP worker may still be spinning on a core.
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) }, chunk =>
        {
            var sums = partial.AsSpan(chunk * area, area);
            var end = Math.Min(vectorColumns, (long)(chunk + 1) * blocksPerChunk * blockColumns);
            for (var start = (long)chunk * blocksPerChunk * blockColumns; start < end; start += blockColumns)
            {
                var length = (int)Math.Min(blockColumns, end - start);
                for (var i = 0; i < padded; i += Tile)
                {
                    for (var j = 0; j <= i; j += Tile)
                    {
                        if (Wide)
                        {
                            AccumulateTile(rows, i, j, start, length, sums, padded);
                        }
                        else
                        {
                            AccumulateTile256(rows, i, j, start, length, sums, padded);
                        }
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
                float* a = (float*)rows[i], b = (float*)rows[j];
                for (var k = vectorColumns; k < columns; k++)
                {
                    value += (double)a[k] * b[k];
                }
                gramian[i, j] = value;
                gramian[j, i] = value;
            }
        }
        ArrayPool<double>.Shared.Return(partial);
        return gramian;
    }

    /// <summary>Adds Σ_k row_{i+a}[k]·row_{j+b}[k] over one block to sums[(i+a)·n + j+b] for a, b in 0..4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateTile(nint[] rows, int i, int j, long start, int length, Span<double> sums, int n)
    {
        // Written out in full: 25 accumulators, 5 + 1 loaded vectors, all in registers (AVX-512 has 32).
        float* a0 = (float*)rows[i + 0] + start, a1 = (float*)rows[i + 1] + start, a2 = (float*)rows[i + 2] + start, a3 = (float*)rows[i + 3] + start, a4 = (float*)rows[i + 4] + start;
        float* b0 = (float*)rows[j + 0] + start, b1 = (float*)rows[j + 1] + start, b2 = (float*)rows[j + 2] + start, b3 = (float*)rows[j + 3] + start, b4 = (float*)rows[j + 4] + start;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c04 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default, c14 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c24 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default, c34 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c43 = default, c44 = default;
        for (var k = 0; k < length; k += Vector512<float>.Count)
        {
            var y0 = Vector512.Load(b0 + k);
            var y1 = Vector512.Load(b1 + k);
            var y2 = Vector512.Load(b2 + k);
            var y3 = Vector512.Load(b3 + k);
            var y4 = Vector512.Load(b4 + k);
            var x = Vector512.Load(a0 + k);
            c00 = Vector512.FusedMultiplyAdd(x, y0, c00);
            c01 = Vector512.FusedMultiplyAdd(x, y1, c01);
            c02 = Vector512.FusedMultiplyAdd(x, y2, c02);
            c03 = Vector512.FusedMultiplyAdd(x, y3, c03);
            c04 = Vector512.FusedMultiplyAdd(x, y4, c04);
            x = Vector512.Load(a1 + k);
            c10 = Vector512.FusedMultiplyAdd(x, y0, c10);
            c11 = Vector512.FusedMultiplyAdd(x, y1, c11);
            c12 = Vector512.FusedMultiplyAdd(x, y2, c12);
            c13 = Vector512.FusedMultiplyAdd(x, y3, c13);
            c14 = Vector512.FusedMultiplyAdd(x, y4, c14);
            x = Vector512.Load(a2 + k);
            c20 = Vector512.FusedMultiplyAdd(x, y0, c20);
            c21 = Vector512.FusedMultiplyAdd(x, y1, c21);
            c22 = Vector512.FusedMultiplyAdd(x, y2, c22);
            c23 = Vector512.FusedMultiplyAdd(x, y3, c23);
            c24 = Vector512.FusedMultiplyAdd(x, y4, c24);
            x = Vector512.Load(a3 + k);
            c30 = Vector512.FusedMultiplyAdd(x, y0, c30);
            c31 = Vector512.FusedMultiplyAdd(x, y1, c31);
            c32 = Vector512.FusedMultiplyAdd(x, y2, c32);
            c33 = Vector512.FusedMultiplyAdd(x, y3, c33);
            c34 = Vector512.FusedMultiplyAdd(x, y4, c34);
            x = Vector512.Load(a4 + k);
            c40 = Vector512.FusedMultiplyAdd(x, y0, c40);
            c41 = Vector512.FusedMultiplyAdd(x, y1, c41);
            c42 = Vector512.FusedMultiplyAdd(x, y2, c42);
            c43 = Vector512.FusedMultiplyAdd(x, y3, c43);
            c44 = Vector512.FusedMultiplyAdd(x, y4, c44);
        }
        var at = i * n + j;
        sums[at + 0] += Vector512.Sum(c00);
        sums[at + 1] += Vector512.Sum(c01);
        sums[at + 2] += Vector512.Sum(c02);
        sums[at + 3] += Vector512.Sum(c03);
        sums[at + 4] += Vector512.Sum(c04);
        at += n;
        sums[at + 0] += Vector512.Sum(c10);
        sums[at + 1] += Vector512.Sum(c11);
        sums[at + 2] += Vector512.Sum(c12);
        sums[at + 3] += Vector512.Sum(c13);
        sums[at + 4] += Vector512.Sum(c14);
        at += n;
        sums[at + 0] += Vector512.Sum(c20);
        sums[at + 1] += Vector512.Sum(c21);
        sums[at + 2] += Vector512.Sum(c22);
        sums[at + 3] += Vector512.Sum(c23);
        sums[at + 4] += Vector512.Sum(c24);
        at += n;
        sums[at + 0] += Vector512.Sum(c30);
        sums[at + 1] += Vector512.Sum(c31);
        sums[at + 2] += Vector512.Sum(c32);
        sums[at + 3] += Vector512.Sum(c33);
        sums[at + 4] += Vector512.Sum(c34);
        at += n;
        sums[at + 0] += Vector512.Sum(c40);
        sums[at + 1] += Vector512.Sum(c41);
        sums[at + 2] += Vector512.Sum(c42);
        sums[at + 3] += Vector512.Sum(c43);
        sums[at + 4] += Vector512.Sum(c44);
    }

    /// <summary>The 256-bit-vector counterpart of <see cref="AccumulateTile"/>: 3×3 tiles, as AVX2 has 16 registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateTile256(nint[] rows, int i, int j, long start, int length, Span<double> sums, int n)
    {
        float* a0 = (float*)rows[i + 0] + start, a1 = (float*)rows[i + 1] + start, a2 = (float*)rows[i + 2] + start;
        float* b0 = (float*)rows[j + 0] + start, b1 = (float*)rows[j + 1] + start, b2 = (float*)rows[j + 2] + start;
        Vector256<float> c00 = default, c01 = default, c02 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default;
        Vector256<float> c20 = default, c21 = default, c22 = default;
        for (var k = 0; k < length; k += Vector256<float>.Count)
        {
            var y0 = Vector256.Load(b0 + k);
            var y1 = Vector256.Load(b1 + k);
            var y2 = Vector256.Load(b2 + k);
            var x = Vector256.Load(a0 + k);
            c00 = Vector256.FusedMultiplyAdd(x, y0, c00);
            c01 = Vector256.FusedMultiplyAdd(x, y1, c01);
            c02 = Vector256.FusedMultiplyAdd(x, y2, c02);
            x = Vector256.Load(a1 + k);
            c10 = Vector256.FusedMultiplyAdd(x, y0, c10);
            c11 = Vector256.FusedMultiplyAdd(x, y1, c11);
            c12 = Vector256.FusedMultiplyAdd(x, y2, c12);
            x = Vector256.Load(a2 + k);
            c20 = Vector256.FusedMultiplyAdd(x, y0, c20);
            c21 = Vector256.FusedMultiplyAdd(x, y1, c21);
            c22 = Vector256.FusedMultiplyAdd(x, y2, c22);
        }
        var at = i * n + j;
        sums[at + 0] += Vector256.Sum(c00);
        sums[at + 1] += Vector256.Sum(c01);
        sums[at + 2] += Vector256.Sum(c02);
        at += n;
        sums[at + 0] += Vector256.Sum(c10);
        sums[at + 1] += Vector256.Sum(c11);
        sums[at + 2] += Vector256.Sum(c12);
        at += n;
        sums[at + 0] += Vector256.Sum(c20);
        sums[at + 1] += Vector256.Sum(c21);
        sums[at + 2] += Vector256.Sum(c22);
    }
}
