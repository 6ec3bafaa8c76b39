using System.Diagnostics;

namespace GradientSurgery.Distributed;

/// <summary>
/// Starting Open MPI's <c>mpirun</c> for ranks on this machine only: where it is, and the environment that keeps
/// the ranks' traffic here. Used by <c>gsurg train --ranks</c>, the distributed benchmark and the tests, so that
/// they all start ranks the same way.
/// </summary>
public static class LocalMpirun
{
    /// <summary>The <c>mpirun</c> executable on <c>PATH</c>, or null when Open MPI is not installed.</summary>
    public static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "mpirun"))
            .FirstOrDefault(File.Exists);

    /// <summary>
    /// The start information of <c>mpirun <paramref name="arguments"/></c> with the environment of a one-machine
    /// run: shared memory between the ranks, the loopback interface for mpirun's own traffic (a machine may have other
    /// interfaces that MPI must not use) and, when running as root, Open MPI's two-step permission to do so. Each
    /// variable is set only where this process's environment does not already choose it, so a user's setting wins.
    /// </summary>
    /// <param name="mpirun">The mpirun executable (see <see cref="Find"/>).</param>
    /// <param name="arguments">Everything after <c>mpirun</c>: its options, then the program of every rank and its arguments.</param>
    public static ProcessStartInfo StartInfo(string mpirun, IEnumerable<string> arguments)
    {
        ArgumentException.ThrowIfNullOrEmpty(mpirun);
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo(mpirun) { UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        SetUnlessInherited(start, "OMPI_MCA_btl", "self,vader");
        SetUnlessInherited(start, "OMPI_MCA_oob_tcp_if_include", "lo");
        if (Environment.UserName == "root")
        {
            // Open MPI refuses root unless told twice; whoever runs this as root has already chosen to.
            SetUnlessInherited(start, "OMPI_ALLOW_RUN_AS_ROOT", "1");
            SetUnlessInherited(start, "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
        }
        return start;
    }

    /// <summary>Sets <paramref name="name"/> for the started process unless this process's environment already sets it.</summary>
    public static void SetUnlessInherited(ProcessStartInfo start, string name, string value)
    {
        ArgumentNullException.ThrowIfNull(start);
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)))
        {
            start.Environment[name] = value;
        }
    }
}
