using System.Diagnostics;
using GradientSurgery.Distributed;

namespace GradientSurgery.Tests.Distributed;

/// <summary>
/// Starts the test host (tests/GradientSurgery.Distributed.TestHost, built next to the test assembly because this
/// project references it) under <c>mpirun</c>: MPI can be initialised only once per process, so every scenario runs
/// in fresh processes.
/// </summary>
internal static class MpiRun
{
    /// <summary>Long enough for two .NET processes to start on a loaded 2-core machine; a hang fails the test.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static string HostPath => Path.Combine(AppContext.BaseDirectory, "GradientSurgery.Distributed.TestHost.dll");

    /// <summary>
    /// Runs <c>mpirun -np <paramref name="ranks"/> dotnet host <paramref name="arguments"/></c> and returns its exit
    /// code, everything it printed (stdout then stderr) and how long it took.
    /// </summary>
    /// <exception cref="Xunit.Sdk.XunitException">It did not end within <paramref name="timeout"/> (it is killed).</exception>
    public static (int Code, string Output, TimeSpan Elapsed) Launch(int ranks, TimeSpan? timeout, params string[] arguments)
    {
        // --oversubscribe: more ranks than cores must not fail on a small CI machine (it also makes idle ranks yield);
        // --bind-to none: the ranks share the cores with whatever else runs rather than each pinning one.
        string[] mpi = ["-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--oversubscribe", "--bind-to", "none"];
        return Start(LocalMpirun.Find() ?? "mpirun", [.. mpi, Dotnet, HostPath, .. arguments], timeout ?? DefaultTimeout);
    }

    /// <summary>Runs the host directly, without mpirun (MPI makes it a world of one).</summary>
    public static (int Code, string Output, TimeSpan Elapsed) Direct(params string[] arguments) =>
        Start(Dotnet, [HostPath, .. arguments], DefaultTimeout);

    // The dotnet that runs the tests (the SDK sets DOTNET_HOST_PATH for dotnet test), else the one on PATH.
    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path && File.Exists(path) ? path : "dotnet";

    /// <summary>Starts <c>mpirun -np <paramref name="ranks"/> dotnet host <paramref name="arguments"/></c> without waiting; output is discarded.</summary>
    public static Process Background(int ranks, params string[] arguments)
    {
        var start = Info(LocalMpirun.Find() ?? "mpirun", ["-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--oversubscribe", "--bind-to", "none", Dotnet, HostPath, .. arguments]);
        start.RedirectStandardOutput = false;
        start.RedirectStandardError = false;
        return Process.Start(start)!;
    }

    private static (int Code, string Output, TimeSpan Elapsed) Start(string program, string[] arguments, TimeSpan timeout)
    {
        var start = Info(program, arguments);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{program} {string.Join(' ', arguments)} did not end within {timeout.TotalSeconds:F0} s; it printed:\n{output.Result}\n{error.Result}");
        }
        process.WaitForExit();
        return (process.ExitCode, output.Result + error.Result, watch.Elapsed);
    }

    private static ProcessStartInfo Info(string program, string[] arguments)
    {
        Assert.True(File.Exists(HostPath), $"The MPI test host is missing: {HostPath}");
        // The environment of a one-machine MPI run (that machine has another interface MPI must never use); a host
        // started without mpirun is a world of one and inherits the same. TERM=dumb keeps .NET's terminal codes out of
        // the captured output; one libtorch thread per rank keeps the tests light on a shared machine.
        var start = LocalMpirun.StartInfo(program, arguments);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.Environment["TERM"] = "dumb";
        start.Environment["OMP_NUM_THREADS"] = "1";
        return start;
    }
}
