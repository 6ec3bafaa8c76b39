using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using GradientSurgery.Aggregation;
using GradientSurgery.Distributed;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Distributed.TestHost;

/// <summary>
/// One scenario of the MPI binding per run, named by the first argument, for the tests to start under
/// <c>mpirun -np 2</c> (or directly, for <c>singleton</c>). Each rank checks its results exactly and prints one line
/// starting with "rank R/S"; exit code 0 when every check holds, 1 when one fails, 2 when <c>mismatch</c> detects the
/// mismatch it provokes.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var scenario = args.Length > 0 ? args[0] : "";
        using var world = MpiCommunicator.Initialize();
        try
        {
            var result = scenario switch
            {
                "allreduce" => AllReduce(world),
                "reducescatter" => ReduceScatter(world),
                "allgather" => AllGather(world),
                "bucketed" => Bucketed(world),
                "tensor" => TensorInPlace(world),
                "mismatch" => Mismatch(world, differentLength: args.Contains("--length")),
                "kill" => Kill(world),
                "singleton" => Singleton(world),
                "error" => Error(world),
                "abort" => AbortJob(world),
                "train" => Train(world, method: args[1], Enum.Parse<JacobianReduction>(args[2]), output: args[3], args.Contains("float32") ? ScalarType.Float32 : ScalarType.Float64),
                "unequal" => Unequal(world),
                "methodmismatch" => MethodMismatch(world),
                "nan" => NonFinite(world, Enum.Parse<JacobianReduction>(args[1]), inLoss: true),
                "nangradient" => NonFinite(world, Enum.Parse<JacobianReduction>(args[1]), inLoss: false),
                "trainer" => Trainer(world, args),
                _ => throw new ArgumentException($"unknown scenario '{scenario}'"),
            };
            Console.WriteLine($"rank {world.Rank}/{world.Size} {scenario} ok: {result}");
            return 0;
        }
        catch (CheckFailed e)
        {
            Console.WriteLine($"rank {world.Rank}/{world.Size} {scenario} FAILED: {e.Message}");
            // The other rank may be waiting in a collective: end the whole job rather than hang it.
            world.Abort(1);
            return 1;
        }
    }

    private static string AllReduce(MpiCommunicator world)
    {
        var (rank, size) = (world.Rank, world.Size);
        var doubles = Enumerable.Range(0, 1000).Select(i => i + 1000.0 * rank).ToArray();
        world.AllReduceSum(doubles);
        for (var i = 0; i < doubles.Length; i++)
        {
            Expect(doubles[i] == (double)size * i + 1000.0 * size * (size - 1) / 2, $"double sum at {i}: {doubles[i]}");
        }
        var floats = Enumerable.Range(0, 1000).Select(i => (float)(i + rank)).ToArray();
        world.AllReduceSum(floats);
        for (var i = 0; i < floats.Length; i++)
        {
            Expect(floats[i] == size * i + size * (size - 1) / 2, $"float sum at {i}: {floats[i]}");
        }
        Expect(world.AllReduceMax(10L * rank + 5) == 10L * (size - 1) + 5, "max");
        Expect(world.AllReduceMax(long.MinValue + rank) == long.MinValue + size - 1, "max of 64-bit values");
        var bytes = new byte[100];
        if (rank == 0)
        {
            for (var i = 0; i < bytes.Length; i++)
            {
                bytes[i] = (byte)(i + 1);
            }
        }
        world.Broadcast<byte>(bytes, root: 0);
        Expect(bytes.Select((b, i) => b == i + 1).All(x => x), "broadcast");
        world.Barrier();
        // MPI_Init installs signal handlers; the runtime must still turn a null dereference into an exception.
        string? nothing = null;
        try
        {
            _ = nothing!.Length;
            Expect(false, "no NullReferenceException");
        }
        catch (NullReferenceException)
        {
        }
        return $"double, float, max and broadcast exact; {world.Implementation}, thread multiple {world.ThreadMultiple}, {MpiLibrary.Version}";
    }

    private static string ReduceScatter(MpiCommunicator world)
    {
        var (rank, size) = (world.Rank, world.Size);
        const int n = 1001;
        // Block b of rank r holds r + b + i/2: exact in both float and double.
        var send = new double[n * size];
        for (var b = 0; b < size; b++)
        {
            for (var i = 0; i < n; i++)
            {
                send[b * n + i] = rank + b + i * 0.5;
            }
        }
        var sendFloat = send.Select(x => (float)x).ToArray();
        var original = send.ToArray();
        // One call, then parts of 3 values per block (the staged path, with a last part of 2).
        foreach (var bucket in new[] { MpiCommunicator.DefaultBucketBytes, 3L * sizeof(double) * size })
        {
            var receive = new double[n];
            world.ReduceScatterBlockSum(send, receive, bucket);
            var receiveFloat = new float[n];
            world.ReduceScatterBlockSum(sendFloat, receiveFloat, bucket / 2);
            for (var i = 0; i < n; i++)
            {
                var expected = size * (size - 1) / 2.0 + size * rank + size * i * 0.5;
                Expect(receive[i] == expected, $"double block value {i} with buckets of {bucket} bytes: {receive[i]} instead of {expected}");
                Expect(receiveFloat[i] == expected, $"float block value {i} with buckets of {bucket / 2} bytes: {receiveFloat[i]} instead of {expected}");
            }
        }
        Expect(send.SequenceEqual(original), "the send buffer changed");
        return "double and float, in one call and in 3-value parts";
    }

    private static string AllGather(MpiCommunicator world)
    {
        var (rank, size) = (world.Rank, world.Size);
        const int n = 777;
        var send = Enumerable.Range(0, n).Select(i => 1000L * rank + i).ToArray();
        foreach (var bucket in new[] { MpiCommunicator.DefaultBucketBytes, 5L * sizeof(long) * size })
        {
            var receive = new long[n * size];
            world.AllGather<long>(send, receive, bucket);
            for (var r = 0; r < size; r++)
            {
                for (var i = 0; i < n; i++)
                {
                    Expect(receive[r * n + i] == 1000L * r + i, $"block {r} value {i} with buckets of {bucket} bytes");
                }
            }
        }
        // Rank r contributes r + 1 values r, so the result is 0, 1, 1, 2, 2, 2, ….
        var counts = Enumerable.Range(1, size).ToArray();
        var gathered = new int[counts.Sum()];
        world.AllGatherV<int>(Enumerable.Repeat(rank, rank + 1).ToArray(), gathered, counts);
        var expected = Enumerable.Range(0, size).SelectMany(r => Enumerable.Repeat(r, r + 1)).ToArray();
        Expect(gathered.SequenceEqual(expected), $"AllGatherV gave {string.Join(",", gathered)}");
        return "equal blocks in one call and in 5-value parts, and blocks of different lengths";
    }

    private static string Bucketed(MpiCommunicator world)
    {
        var (rank, size) = (world.Rank, world.Size);
        // 40 MB: above the ~24 MB where Open MPI's default all-reduce slows down on loopback.
        const int n = 5_000_000;
        var data = new double[n];
        var timings = new List<string>();
        foreach (var (name, bucket) in new[] { ("8 MiB buckets", MpiCommunicator.DefaultBucketBytes), ("1 MiB buckets", 1L << 20), ("one call", long.MaxValue) })
        {
            for (var i = 0; i < n; i++)
            {
                data[i] = i % 1000 + rank;
            }
            world.Barrier();
            var watch = Stopwatch.StartNew();
            world.AllReduceSum(data, bucket);
            var elapsed = watch.Elapsed.TotalMilliseconds;
            for (var i = 0; i < n; i++)
            {
                Expect(data[i] == (double)size * (i % 1000) + size * (size - 1) / 2, $"sum at {i} with {name}: {data[i]}");
            }
            timings.Add($"{name} {elapsed:F0} ms");
        }
        return $"40 MB of doubles summed exactly: {string.Join(", ", timings)}";
    }

    private static string TensorInPlace(MpiCommunicator world)
    {
        var (rank, size) = (world.Rank, world.Size);
        foreach (var dtype in new[] { ScalarType.Float64, ScalarType.Float32 })
        {
            using var scope = NewDisposeScope();
            var tensor = (arange(3 * 4 * 5, dtype: dtype) + rank).reshape(3, 4, 5);
            var address = TensorAddress.Of(tensor);
            world.AllReduceSum(tensor);
            var expected = (arange(3 * 4 * 5, dtype: dtype) * size + size * (size - 1) / 2).reshape(3, 4, 5);
            Expect(tensor.equal(expected).all().item<bool>(), $"{dtype} tensor sum");
            Expect(TensorAddress.Of(tensor) == address, "the tensor's memory moved");
            // A view with a storage offset: only its own elements change.
            var rows = zeros(4, 5, dtype: dtype) + 1;
            var middle = rows[1..3];
            world.AllReduceSum(middle);
            Expect(rows[0].sum().to(ScalarType.Float64).item<double>() == 5 && rows[3].sum().to(ScalarType.Float64).item<double>() == 5, "elements outside the view changed");
            Expect(rows[1..3].sum().to(ScalarType.Float64).item<double>() == 10.0 * size, "the view's sum");
            try
            {
                world.AllReduceSum(tensor.transpose(0, 2));
                Expect(false, "a non-contiguous tensor was accepted");
            }
            catch (ArgumentException e) when (e.Message.Contains("[5, 4, 3]") && e.Message.Contains("not contiguous"))
            {
            }
        }
        try
        {
            using var integers = arange(4);
            world.AllReduceSum(integers);
            Expect(false, "an int64 tensor was accepted");
        }
        catch (ArgumentException e) when (e.Message.Contains("Int64") && e.Message.Contains("cpu", StringComparison.OrdinalIgnoreCase))
        {
        }
        return "float64 and float32 tensors summed in place (same memory); a view with an offset; non-contiguous and int64 refused";
    }

    private static string Mismatch(MpiCommunicator world, bool differentLength)
    {
        // Equal settings pass (hashed with SHA-256 by the string overload).
        world.VerifySame("settings", "seed=1 tasks=2 shapes=[784x256,256]");
        // Raw bytes for the mismatch, so that rank 1's fingerprint can also be longer than rank 0's.
        var description = world.Rank != 1 ? "seed=1 tasks=2 shapes=[784x256,256]"
            : differentLength ? "seed=1 tasks=10 shapes=[784x256,256]"
            : "seed=2 tasks=2 shapes=[784x256,256]";
        try
        {
            world.VerifySame("settings", System.Text.Encoding.UTF8.GetBytes(description), "seed, task count or parameter shapes differ");
        }
        catch (InvalidOperationException e)
        {
            Console.WriteLine($"rank {world.Rank}/{world.Size} mismatch detected: {e.Message}");
            world.Dispose();
            Environment.Exit(2);
        }
        throw new CheckFailed("the mismatch was not detected");
    }

    /// <summary>trainer METHOD OUT EPOCHS [--resume] [--rank1-seed S] [--delay-ms D]: <see cref="TrainerScenario.Run"/>; exit code 2 with the message when the trainer refuses.</summary>
    private static string Trainer(MpiCommunicator world, string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var k and >= 0 ? args[k + 1] : null;
        var seed = world.Rank == 1 && Option("--rank1-seed") is { } other ? long.Parse(other, System.Globalization.CultureInfo.InvariantCulture) : 11;
        try
        {
            return TrainerScenario.Run(world, args[1], args[2], int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture), args.Contains("--resume"), seed,
                TimeSpan.FromMilliseconds(int.Parse(Option("--delay-ms") ?? "0", System.Globalization.CultureInfo.InvariantCulture)));
        }
        catch (Exception refused) when (refused is InvalidOperationException or ArgumentException or NotSupportedException)
        {
            Console.WriteLine($"rank {world.Rank}/{world.Size} trainer refused: {refused.Message}");
            Console.Error.WriteLine(refused.StackTrace);
            world.Dispose();
            Environment.Exit(2);
            throw;
        }
    }

    private static string Kill(MpiCommunicator world)
    {
        var data = new double[1000];
        for (var step = 0; step < 100_000; step++)
        {
            if (step == 20 && world.Rank == 1)
            {
                Console.WriteLine($"rank 1/{world.Size} kills itself at step {step}");
                // SIGKILL: no handler, no MPI_Finalize — as when the machine's OOM killer ends a rank.
                Process.GetCurrentProcess().Kill();
            }
            world.AllReduceSum(data);
            Thread.Sleep(1);
        }
        throw new CheckFailed("the job went on after a rank died");
    }

    private static unsafe string Error(MpiCommunicator world)
    {
        // A negative count fails MPI's argument check on each rank before any communication: with MPI_ERRORS_RETURN in
        // effect the call returns a code (under MPI's default handler the job would abort here).
        var native = MpiLibrary.Native;
        var value = 1.0;
        var code = native.Allreduce(&value, &value, -1, native.Constants.Double.Value, native.Constants.Sum.Value, native.Constants.CommWorld.Value);
        try
        {
            world.Check("MPI_Allreduce", code);
        }
        catch (MpiException e) when (e.Call == "MPI_Allreduce" && e.ErrorCode == code)
        {
            // The job goes on after an error that MPI returned.
            world.Barrier();
            return e.Message;
        }
        throw new CheckFailed($"MPI_Allreduce with a negative count returned {code} and no MpiException");
    }

    private static string AbortJob(MpiCommunicator world)
    {
        if (world.Rank == 0)
        {
            Console.WriteLine($"rank 0/{world.Size} aborts the job");
            world.Abort(3);
        }
        // Rank 1 waits for rank 0, which never comes: MPI_Abort must end it too.
        world.Barrier();
        throw new CheckFailed("the barrier returned after rank 0 aborted");
    }

    private static string Singleton(MpiCommunicator world)
    {
        Expect(world.Size == 1 && world.Rank == 0, $"rank {world.Rank} of {world.Size} without mpirun");
        var data = new[] { 1.5, 2.5 };
        world.AllReduceSum(data);
        Expect(data[0] == 1.5 && data[1] == 2.5, "a world of one changed the values");
        world.VerifySame("settings", "anything");
        return "a world of one";
    }

    private static (ShardBackward, IDisposable) Distributed(MpiCommunicator world, JacobianReduction reduction, IAggregator aggregator, Parameter[] shared, Parameter[] heads)
    {
        var backward = new DistributedMultiTaskBackward(aggregator, shared, heads, world, reduction);
        return (backward.Backward, backward);
    }

    private static string Train(MpiCommunicator world, string method, JacobianReduction reduction, string output, ScalarType dtype)
    {
        var parameters = TrainingScenario.Train(method, world.Rank, world.Size, (aggregator, shared, heads) => Distributed(world, reduction, aggregator, shared, heads), dtype: dtype);
        // Every rank's replica must be bit-identical to rank 0's: that is what broadcasting rank 0's decisions buys.
        var reference = parameters.ToArray();
        world.Broadcast<double>(reference, root: 0);
        Expect(reference.AsSpan().SequenceEqual(parameters), "this rank's parameters differ from rank 0's");
        if (world.Rank == 0)
        {
            File.WriteAllBytes(output, MemoryMarshal.AsBytes(parameters.AsSpan()).ToArray());
        }
        return $"{method} {reduction}: {parameters.Length} parameters, identical on every rank";
    }

    private static string Unequal(MpiCommunicator world)
    {
        // Rank r claims 8 + r samples: the mean of the shards would not be the global batch's mean.
        try
        {
            TrainingScenario.Train("pcgrad", world.Rank, world.Size, (aggregator, shared, heads) =>
            {
                var backward = new DistributedMultiTaskBackward(aggregator, shared, heads, world);
                return ((losses, shardSize) => backward.Backward(losses, shardSize + world.Rank), backward);
            });
        }
        catch (ArgumentException e)
        {
            Expect(e.Message.StartsWith($"The ranks' shards have 8 to {7 + world.Size} samples", StringComparison.Ordinal), $"unexpected message: {e.Message}");
            return e.Message;
        }
        throw new CheckFailed("unequal shards were accepted");
    }

    private static string MethodMismatch(MpiCommunicator world)
    {
        try
        {
            TrainingScenario.Train(world.Rank == 1 ? "mgda" : "pcgrad", world.Rank, world.Size, (aggregator, shared, heads) => Distributed(world, JacobianReduction.ReduceScatter, aggregator, shared, heads));
        }
        catch (InvalidOperationException e)
        {
            Expect(e.Message.StartsWith("The distributed backward settings differ between ranks: rank 1", StringComparison.Ordinal), $"unexpected message: {e.Message}");
            return e.Message;
        }
        throw new CheckFailed("different aggregators were accepted");
    }

    private static string NonFinite(MpiCommunicator world, JacobianReduction reduction, bool inLoss)
    {
        // The last rank alone corrupts task 1's loss (NaN) or task 2's gradient (sqrt at 0 in the backward: ∞·0 = NaN
        // with a finite loss) at step 2; every rank must throw, naming the task.
        Tensor[] Corrupt(int step, Tensor[] losses, Tensor features)
        {
            if (step == 2 && world.Rank == world.Size - 1)
            {
                if (inLoss)
                {
                    losses[1] = losses[1] * double.NaN;
                }
                else
                {
                    losses[2] = losses[2] + (features.sum() * 0).sqrt();
                }
            }
            return losses;
        }
        try
        {
            TrainingScenario.Train("pcgrad", world.Rank, world.Size, (aggregator, shared, heads) => Distributed(world, reduction, aggregator, shared, heads), Corrupt);
        }
        catch (ArithmeticException e)
        {
            var expected = inLoss ? "The loss of task 1 is NaN" : "The gradient of task 2 with respect to the shared parameters contains NaN or Inf";
            Expect(e.Message.StartsWith(expected, StringComparison.Ordinal), $"unexpected message: {e.Message}");
            return $"{reduction}: {e.Message}";
        }
        throw new CheckFailed("no exception");
    }

    private static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new CheckFailed(what);
        }
    }

    private sealed class CheckFailed(string message) : Exception(message);
}

/// <summary>The address of a contiguous CPU tensor's first element, to check that the all-reduce did not copy.</summary>
internal static class TensorAddress
{
    public static unsafe nint Of(Tensor tensor) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(tensor.bytes));
}
