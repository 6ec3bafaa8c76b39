namespace GradientSurgery.Environments.MuJoCo;

/// <summary>
/// MuJoCo 2.2.2 cannot be used in this process: the native library is not installed, is another version, or was
/// disabled. The message is <see cref="MuJoCoLibrary.MissingMessage"/>. Derives from <see cref="DllNotFoundException"/>
/// so that code which already handles a missing native library handles this one too.
/// </summary>
public sealed class MuJoCoUnavailableException : DllNotFoundException
{
    /// <summary>Creates the exception with the reason MuJoCo is unavailable.</summary>
    public MuJoCoUnavailableException(string message)
        : base(message)
    {
    }
}
