namespace GradientSurgery.Cli;

/// <summary>How to start this gsurg again (under mpirun, or with another environment).</summary>
internal static class SelfCommand
{
    /// <summary>Its apphost, or dotnet with gsurg.dll (also when gsurg runs inside another host, e.g. tests).</summary>
    public static string[] Arguments()
    {
        var host = Environment.ProcessPath;
        if (host is not null && Path.GetFileNameWithoutExtension(host) == "gsurg")
        {
            return [host];
        }
        var dotnet = host is not null && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } sdkHost ? sdkHost : "dotnet";
        return [dotnet, typeof(SelfCommand).Assembly.Location];
    }
}
