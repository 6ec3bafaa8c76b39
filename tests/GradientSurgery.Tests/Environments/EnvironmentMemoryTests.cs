using System.Globalization;
using System.Runtime.InteropServices;
using GradientSurgery.Environments;
using GradientSurgery.Environments.Manipulation;

namespace GradientSurgery.Tests.Environments;

/// <summary>
/// Environments give their memory back: disposing a manipulation environment frees its MuJoCo model and data at once,
/// and episodes (resets and steps) do not accumulate memory, native or managed.
/// </summary>
public sealed class EnvironmentMemoryTests
{
    private const int Environments = 200;
    private const int Episodes = 1_000;
    private const int StepsPerEpisode = 5;

    /// <summary>
    /// Bound on resident growth. Measured on the project's machine (2026-12): one MjModel + MjData of these tasks is
    /// 3.1–3.3 MiB resident (the data's 3.2 MiB stack, which mj_makeData writes, dominates; the model is 15–25 KiB),
    /// so an environment whose Dispose freed neither would add 200 × 3.2 ≈ 640 MiB here, and one that freed the model
    /// but not the data the same. A correct run grows by 0–8 MiB (JIT tiers, the managed heap and glibc's heap
    /// settling), well below the bound.
    /// </summary>
    private const long GrowthBound = 20L << 20;

    [MuJoCoFact]
    public void DisposedManipulationEnvironmentsFreeTheirSimulationAndEpisodesDoNotGrowResidentMemory()
    {
        var suite = ManipulationSuite.Create();
        // Warm-up: the same work once at a smaller scale, so that the JIT's tiers, MuJoCo's first allocations and the
        // allocators' pools are in place before the baseline.
        CreateAndDispose(suite, 2 * suite.TaskNames.Count, kept: null);
        RunEpisodes(suite, 100);
        Settle();
        var before = ResidentBytes();

        // The disposed environments stay reachable until the end, so that no finalizer can free what Dispose left:
        // only Dispose itself can keep the resident size flat.
        var disposed = new List<ManipulationEnvironment>();
        CreateAndDispose(suite, Environments, disposed);
        RunEpisodes(suite, Episodes);
        Settle();
        var growth = ResidentBytes() - before;

        Assert.True(growth < GrowthBound, string.Create(CultureInfo.InvariantCulture,
            $"resident memory grew by {growth / 1048576.0:F1} MiB over {Environments} environments created and disposed and {Episodes} episodes (bound {GrowthBound >> 20} MiB)"));
        // And Dispose closed both: the model's native memory is too small (15–25 KiB) for the resident size to tell.
        Assert.Equal(Environments, disposed.Count);
        Assert.All(disposed, environment =>
        {
            Assert.Throws<ObjectDisposedException>(() => environment.Data.Qpos.Length);
            Assert.Throws<ObjectDisposedException>(() => environment.Data.Model.Nq);
        });
        GC.KeepAlive(disposed);
    }

    [Fact]
    public void PointMassEpisodesLeaveNoLiveManagedMemoryBehind()
    {
        // Pure C#: nothing native to free, so the question is whether episodes accumulate live objects (a history, an
        // event subscription). Live managed bytes answer it exactly, where the resident size would be noise.
        var suite = Suite.Find("pointmass");
        var environments = Enumerable.Range(0, suite.TaskNames.Count).Select(suite.Create).ToList();
        try
        {
            void Run(int episodes)
            {
                var observation = new float[environments[0].Spec.ObservationSize];
                var action = new float[environments[0].Spec.ActionSize];
                for (var episode = 0; episode < episodes; episode++)
                {
                    var environment = environments[episode % environments.Count];
                    environment.Reset((ulong)episode, observation);
                    StepResult result;
                    var t = 0;
                    do
                    {
                        (action[0], action[1]) = (MathF.Sin(t + episode), MathF.Cos(t));
                        result = environment.Step(action, observation);
                        t++;
                    }
                    while (!result.Done);
                }
            }
            Run(20);
            var before = GC.GetTotalMemory(forceFullCollection: true);
            Run(Episodes);
            var growth = GC.GetTotalMemory(forceFullCollection: true) - before;
            // A correct run moves by a few hundred bytes either way; anything kept per episode, even one object of the
            // smallest size (24 bytes), adds 24,000 bytes over the episodes.
            Assert.True(growth < 16 << 10, $"live managed memory grew by {growth} bytes over {Episodes} full episodes");
        }
        finally
        {
            environments.ForEach(e => e.Dispose());
        }
    }

    /// <summary>Creates <paramref name="count"/> environments, task by task in turn, runs a short episode in each and disposes it.</summary>
    private static void CreateAndDispose(Suite suite, int count, List<ManipulationEnvironment>? kept)
    {
        var observation = new float[ManipulationEnvironment.ObservationLength];
        for (var i = 0; i < count; i++)
        {
            var environment = (ManipulationEnvironment)suite.Create(i % suite.TaskNames.Count);
            try
            {
                environment.Reset((ulong)i, observation);
                for (var t = 0; t < StepsPerEpisode; t++)
                {
                    environment.Step([0.5f, -0.5f, -1f, t % 2 == 0 ? 1f : -1f], observation);
                }
            }
            finally
            {
                environment.Dispose();
            }
            kept?.Add(environment);
        }
    }

    /// <summary>Runs <paramref name="episodes"/> short episodes (a reset and a few steps) over one environment per task, in turn.</summary>
    private static void RunEpisodes(Suite suite, int episodes)
    {
        var environments = Enumerable.Range(0, suite.TaskNames.Count).Select(suite.Create).ToList();
        try
        {
            var observation = new float[ManipulationEnvironment.ObservationLength];
            for (var episode = 0; episode < episodes; episode++)
            {
                var environment = environments[episode % environments.Count];
                environment.Reset((ulong)episode, observation);
                for (var t = 0; t < StepsPerEpisode; t++)
                {
                    environment.Step([MathF.Sin(episode + t), MathF.Cos(episode), -0.5f, t % 2 == 0 ? 1f : -1f], observation);
                }
            }
        }
        finally
        {
            environments.ForEach(e => e.Dispose());
        }
    }

    /// <summary>
    /// Collects managed garbage and asks glibc to return freed pages, so that the resident size counts memory in use
    /// rather than what the allocators keep cached (as the benchmarks' ProcessMemory.Settle does).
    /// </summary>
    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        try
        {
            _ = MallocTrim(0);
        }
        catch (EntryPointNotFoundException)
        {
            // Not glibc: the resident size then includes the allocator's cache, which only makes the test stricter.
        }
    }

    /// <summary>VmRSS of this process from /proc/self/status, in bytes.</summary>
    private static long ResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }
        throw new InvalidOperationException("/proc/self/status has no VmRSS line.");
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
