using System.Diagnostics;
using System.Globalization;
using GradientSurgery.Distributed;

namespace GradientSurgery.Cli;

/// <summary>
/// The two ways <c>gsurg train</c> meets MPI: as a rank that <c>mpirun</c> started, and as the launcher of
/// <c>gsurg train --ranks N</c>, which starts <c>mpirun -np N</c> with the same command on this machine.
/// </summary>
internal static class MpiLaunch
{
    /// <summary>Whether this process was started by mpirun (Open MPI sets OMPI_COMM_WORLD_SIZE, MPICH and Hydra PMI_SIZE).</summary>
    public static bool IsRank =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is { Length: > 0 } || Environment.GetEnvironmentVariable("PMI_SIZE") is { Length: > 0 };

    /// <summary>
    /// libtorch threads for one rank: the cores this process may use, shared with the other ranks on this machine
    /// (mpirun binds each of 2 ranks to a core by default; unbound ranks share all cores).
    /// </summary>
    public static int ThreadsPerRank()
    {
        var local = int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 1;
        return Math.Max(1, Environment.ProcessorCount / local);
    }

    /// <summary>
    /// Runs <c>mpirun -np <paramref name="ranks"/></c> on this gsurg with <paramref name="arguments"/> and returns
    /// 0 when every rank succeeded, else <see cref="GsurgApp.RunFailure"/> (the ranks and mpirun have said why on the
    /// console, which their output goes straight to).
    /// </summary>
    /// <exception cref="UsageException">mpirun is not installed.</exception>
    public static int Run(int ranks, IReadOnlyList<string> arguments)
    {
        var mpirun = LocalMpirun.Find() ?? throw new UsageException(
            $"--ranks needs mpirun, which is not installed; install Open MPI (apt-get install {MpiLibrary.DebianPackage}) or train in one process without --ranks.");
        // More ranks than cores is the user's choice here (mpirun refuses it by default); the ranks then share the
        // cores instead of each being bound to one. A multi-machine run starts mpirun itself, with a host file
        // (docs/distributed.md).
        string[] placement = ranks > Environment.ProcessorCount ? ["--oversubscribe", "--bind-to", "none"] : [];
        var start = LocalMpirun.StartInfo(mpirun, ["-np", ranks.ToString(CultureInfo.InvariantCulture), .. placement, .. SelfCommand.Arguments(), .. arguments]);
        // Local ranks inherit mpirun's environment; they do not restart themselves (Gen0Budget).
        LocalMpirun.SetUnlessInherited(start, Gen0Budget.Variable, Gen0Budget.Value);
        using var process = Process.Start(start) ?? throw new IOException($"Could not start {mpirun}.");
        // Ctrl+C and SIGTERM reach mpirun, which passes them to the ranks; they stop after the current step and
        // rank 0 writes the checkpoint, so this process only waits.
        process.WaitForExit();
        return process.ExitCode == 0 ? GsurgApp.Success : GsurgApp.RunFailure;
    }
}
