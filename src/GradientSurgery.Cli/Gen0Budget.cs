using System.Diagnostics;
using System.Runtime.InteropServices;

namespace GradientSurgery.Cli;

/// <summary>
/// Runs gsurg with a 256 MB gen0 budget of the .NET garbage collector: far fewer collections, hence far fewer chances
/// for TorchSharp 0.107's race between the collector's finalizer and a <c>Scalar</c> in a native call, which ends long
/// runs with "Unknown scalar type" (docs/troubleshooting.md).
/// </summary>
/// <remarks>
/// The budget can only be set by the environment variable <c>DOTNET_GCgen0size</c>: the runtime reads it before any
/// code runs, and the setting has no runtimeconfig.json name (a <c>System.GC.Gen0Size</c> property is ignored: 612
/// gen0 collections for 1 GB of small garbage with it, 9 with the variable, measured 2026-12-06). So a gsurg started
/// without the variable starts itself again with it, once, and passes on its exit code; Ctrl+C reaches both processes
/// from the terminal (this one ignores it) and SIGTERM is forwarded. A variable the user has set, to any value, is
/// left alone, as are MPI ranks (<c>--ranks</c> gives its ranks the variable; with your own mpirun, pass
/// <c>-x DOTNET_GCgen0size=0x10000000</c>).
/// </remarks>
internal static class Gen0Budget
{
    public const string Variable = "DOTNET_GCgen0size";

    public const string Value = "0x10000000";

    /// <summary>Whether this process should start gsurg again with the budget.</summary>
    public static bool ShouldRestart =>
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable)) && !MpiLaunch.IsRank;

    /// <summary>Starts gsurg with <paramref name="args"/> and the budget, waits for it and returns its exit code.</summary>
    public static int RunWithBudget(IReadOnlyList<string> args)
    {
        var self = SelfCommand.Arguments();
        var start = new ProcessStartInfo(self[0]) { UseShellExecute = false };
        foreach (var argument in self.Skip(1).Concat(args))
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment[Variable] = Value;
        using var child = Process.Start(start) ?? throw new IOException($"Could not start {self[0]}.");
        // The terminal sends Ctrl+C to the child as well: it stops after its current step; this process waits.
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => context.Cancel = true);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            // Forwarded with kill(1): the child stops after its current step and writes its checkpoint.
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false });
            kill?.WaitForExit();
        });
        child.WaitForExit();
        return child.ExitCode;
    }
}
