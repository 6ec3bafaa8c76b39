using System.Runtime.InteropServices;

namespace GradientSurgery.Environments.MuJoCo;

/// <summary>
/// The native MuJoCo library, loaded on first use: <c>libmujoco.so.2.2.2</c> (Debian's package libmujoco2.2.2), else
/// <c>libmujoco.so</c>, accepted only if <c>mj_version()</c> is 222 — the struct offsets in <see cref="MjLayout"/> come
/// from the 2.2.2 headers and are wrong for any other version. This is the only place that finds the library.
/// </summary>
/// <remarks>
/// On load the binding installs MuJoCo's process-wide error and warning handlers. MuJoCo's default error handler
/// waits for Enter on stdin and then exits the process, which would hang CI; ours fails fast with MuJoCo's message
/// instead (an error means MuJoCo's own state is broken, e.g. its stack overflowed, so nothing can be recovered by
/// throwing). Its default warning handler also writes MUJOCO_LOG.TXT into the working directory; ours keeps the
/// text in <see cref="LastWarning"/>, while the counts stay in <see cref="MjData.WarningCount"/>.
/// Setting the environment variable <c>GRADIENTSURGERY_MUJOCO=off</c> makes the library unavailable, to test code
/// paths of machines without it.
/// </remarks>
public static unsafe class MuJoCoLibrary
{
    /// <summary>The only MuJoCo version the binding accepts, as <c>mj_version()</c> reports it.</summary>
    public const int RequiredVersion = 222;

    /// <summary>The Debian package that provides the library.</summary>
    public const string DebianPackage = "libmujoco2.2.2";

    private static readonly Lazy<(MuJoCoNative? Native, int Version, string? Missing)> s_load = new(Load);
    private static volatile string? s_lastWarning;

    /// <summary>Whether MuJoCo 2.2.2 could be loaded; loads it on first call and never throws.</summary>
    public static bool IsAvailable => s_load.Value.Native is not null;

    /// <summary>
    /// One line saying why MuJoCo is unavailable and which Debian package provides it (for skipped tests and error
    /// messages); <see langword="null"/> when it is available.
    /// </summary>
    public static string? MissingMessage => s_load.Value.Missing;

    /// <summary>The version the loaded library reports (222 for 2.2.2), or 0 if no library could be loaded.</summary>
    public static int Version => s_load.Value.Version;

    /// <summary>The text of the last warning MuJoCo reported in this process, if any (diagnostics only).</summary>
    public static string? LastWarning => s_lastWarning;

    /// <summary>Loads MuJoCo if needed.</summary>
    /// <exception cref="MuJoCoUnavailableException">MuJoCo 2.2.2 is unavailable; the message is <see cref="MissingMessage"/>.</exception>
    public static void EnsureAvailable() => _ = Native;

    /// <summary>The resolved functions, for the binding's classes.</summary>
    /// <exception cref="MuJoCoUnavailableException">MuJoCo 2.2.2 is unavailable.</exception>
    internal static MuJoCoNative Native
    {
        get
        {
            var (native, _, missing) = s_load.Value;
            return native ?? throw new MuJoCoUnavailableException(missing!);
        }
    }

    /// <summary>Formats a version number the way MuJoCo 2.x writes it (222 → "2.2.2").</summary>
    internal static string FormatVersion(int version) => $"{version / 100}.{version / 10 % 10}.{version % 10}";

    private static (MuJoCoNative?, int, string?) Load()
    {
        var notInstalled = $"MuJoCo {FormatVersion(RequiredVersion)} is not installed: apt-get install {DebianPackage}";
        if (string.Equals(Environment.GetEnvironmentVariable("GRADIENTSURGERY_MUJOCO"), "off", StringComparison.OrdinalIgnoreCase))
        {
            return (null, 0, $"MuJoCo is disabled by GRADIENTSURGERY_MUJOCO=off (it comes from apt-get install {DebianPackage})");
        }
        if (!NativeLibrary.TryLoad("libmujoco.so.2.2.2", out var library) && !NativeLibrary.TryLoad("libmujoco.so", out library))
        {
            return (null, 0, notInstalled);
        }
        try
        {
            var native = new MuJoCoNative(library);
            var version = native.Version();
            if (version != RequiredVersion)
            {
                // The library stays loaded: unloading one that may have run initialisers gains nothing.
                return (null, version,
                    $"MuJoCo {FormatVersion(version)} was found but the binding needs {FormatVersion(RequiredVersion)} (its struct layout): apt-get install {DebianPackage}");
            }
            *(delegate* unmanaged<byte*, void>*)native.UserErrorHandler = &OnError;
            *(delegate* unmanaged<byte*, void>*)native.UserWarningHandler = &OnWarning;
            return (native, version, null);
        }
        catch (EntryPointNotFoundException e)
        {
            return (null, 0, $"The MuJoCo library found lacks a function ({e.Message}); the binding needs {FormatVersion(RequiredVersion)}: apt-get install {DebianPackage}");
        }
    }

    [UnmanagedCallersOnly]
    private static void OnError(byte* message) =>
        Environment.FailFast($"MuJoCo error: {Marshal.PtrToStringUTF8((nint)message)}");

    [UnmanagedCallersOnly]
    private static void OnWarning(byte* message) => s_lastWarning = Marshal.PtrToStringUTF8((nint)message);
}
