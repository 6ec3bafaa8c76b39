using GradientSurgery.Distributed;

namespace GradientSurgery.Tests.Distributed;

/// <summary>
/// A fact that needs Open MPI's <c>mpirun</c> on PATH: skipped, with the Debian package to install, where it is absent.
/// The MPI library itself is loaded only by the test host that mpirun starts, never into the test process.
/// </summary>
public sealed class MpiFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when mpirun cannot be found.</summary>
    public MpiFactAttribute()
    {
        Skip = SkipReason;
    }

    /// <summary>Why tests that need mpirun skip here, or null when it is on PATH.</summary>
    internal static string? SkipReason => LocalMpirun.Find() is null ? $"mpirun is not on PATH: apt-get install {MpiLibrary.DebianPackage}" : null;
}
