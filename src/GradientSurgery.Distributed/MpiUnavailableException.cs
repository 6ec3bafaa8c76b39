namespace GradientSurgery.Distributed;

/// <summary>
/// MPI cannot be used in this process: no MPI library is installed, it lacks a function the binding needs, or it was
/// disabled. The message is <see cref="MpiLibrary.MissingMessage"/>. Derives from <see cref="DllNotFoundException"/>
/// so that code which already handles a missing native library handles this one too.
/// </summary>
public sealed class MpiUnavailableException : DllNotFoundException
{
    /// <summary>Creates the exception with the reason MPI is unavailable.</summary>
    public MpiUnavailableException(string message)
        : base(message)
    {
    }
}
