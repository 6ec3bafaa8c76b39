using System.Runtime.InteropServices;

namespace GradientSurgery.Distributed;

/// <summary>
/// The native MPI library, loaded on first use. This is the only place that finds it. Under Open MPI's
/// <c>mpirun</c> (which sets <c>OMPI_COMM_WORLD_SIZE</c>) only Open MPI's <c>libmpi.so.40</c> is tried; under an
/// MPICH launcher (<c>PMI_SIZE</c> set) MPICH's <c>libmpich.so.12</c> comes first; otherwise Open MPI first, then MPICH.
/// Which implementation was found is told by its exports (Open MPI exports <c>ompi_mpi_comm_world</c>), not by the
/// file's name. Open MPI 4.1 is tested; MPICH is bound from its header constants but untested.
/// </summary>
/// <remarks>
/// Setting the environment variable <c>GRADIENTSURGERY_MPI=off</c> makes the library unavailable, to test code
/// paths of machines without it.
/// </remarks>
public static unsafe class MpiLibrary
{
    /// <summary>The Debian package that provides Open MPI's runtime (and <c>mpirun</c>).</summary>
    public const string DebianPackage = "openmpi-bin";

    private const string OpenMpiFile = "libmpi.so.40";
    private const string MpichFile = "libmpich.so.12";

    private static readonly Lazy<(MpiNative? Native, string? Missing)> s_load = new(Load);

    /// <summary>Whether an MPI library could be loaded; loads it on first call and never throws.</summary>
    public static bool IsAvailable => s_load.Value.Native is not null;

    /// <summary>
    /// One line saying why MPI is unavailable and which Debian package provides it (for skipped tests and error
    /// messages); <see langword="null"/> when it is available.
    /// </summary>
    public static string? MissingMessage => s_load.Value.Missing;

    /// <summary>The implementation loaded.</summary>
    /// <exception cref="MpiUnavailableException">No MPI library could be loaded.</exception>
    public static MpiImplementation Implementation => Native.Constants.Implementation;

    /// <summary>The library's own version line, e.g. "Open MPI v4.1.4, package: Debian OpenMPI, …".</summary>
    /// <exception cref="MpiUnavailableException">No MPI library could be loaded.</exception>
    public static string Version => Native.LibraryVersion();

    /// <summary>Loads MPI if needed.</summary>
    /// <exception cref="MpiUnavailableException">MPI is unavailable; the message is <see cref="MissingMessage"/>.</exception>
    public static void EnsureAvailable() => _ = Native;

    /// <summary>The resolved functions and constants, for the binding's classes.</summary>
    /// <exception cref="MpiUnavailableException">MPI is unavailable.</exception>
    internal static MpiNative Native
    {
        get
        {
            var (native, missing) = s_load.Value;
            return native ?? throw new MpiUnavailableException(missing!);
        }
    }

    private static (MpiNative?, string?) Load()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("GRADIENTSURGERY_MPI"), "off", StringComparison.OrdinalIgnoreCase))
        {
            return (null, $"MPI is disabled by GRADIENTSURGERY_MPI=off (Open MPI comes from apt-get install {DebianPackage})");
        }
        string[] candidates = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null ? [OpenMpiFile]
            : Environment.GetEnvironmentVariable("PMI_SIZE") is not null ? [MpichFile, OpenMpiFile]
            : [OpenMpiFile, MpichFile];
        foreach (var file in candidates)
        {
            if (!NativeLibrary.TryLoad(file, out var library))
            {
                continue;
            }
            try
            {
                // The library stays loaded even if it is refused: unloading one that may have run initialisers gains nothing.
                var constants = NativeLibrary.TryGetExport(library, "ompi_mpi_comm_world", out _)
                    ? MpiConstants.OpenMpi(library)
                    : MpiConstants.Mpich();
                return (new MpiNative(library, constants), null);
            }
            catch (EntryPointNotFoundException e)
            {
                return (null, $"The MPI library {file} lacks a function or handle ({e.Message}); the binding needs MPI 3 or later: apt-get install {DebianPackage}");
            }
        }
        return (null, $"Open MPI is not installed: apt-get install {DebianPackage}");
    }
}
