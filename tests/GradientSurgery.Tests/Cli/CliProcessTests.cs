using System.Diagnostics;
using System.Globalization;
using GradientSurgery.Cli;

namespace GradientSurgery.Tests.Cli;

/// <summary>
/// gsurg as a process: started without the collector's gen0 budget it runs itself again with it (Gen0Budget), passes
/// on the exit code and forwards SIGTERM, so that a stopped run still ends with a checkpoint.
/// </summary>
public sealed class CliProcessTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-process-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static ProcessStartInfo Gsurg(params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in (string[])[Path.Combine(AppContext.BaseDirectory, "gsurg.dll"), .. arguments])
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment.Remove(Gen0Budget.Variable);
        start.Environment["TERM"] = "dumb";
        return start;
    }

    [Fact]
    public async Task ARestartedRunHasTheBudgetAndStopsWithACheckpointOnSigterm()
    {
        var data = Path.Combine(_directory, "data");
        GradientSurgery.Tests.Data.IdxTestFiles.WriteSource(data, "mnist", trainCount: 640, testCount: 20, seed: 4);
        var run = Path.Combine(_directory, "run");
        using var parent = Process.Start(Gsurg(
            "train", "--data", data, "--epochs", "1000", "--batch-size", "16", "--cache", Path.Combine(_directory, "cache"), "--out", run))!;
        var output = parent.StandardOutput.ReadToEndAsync();
        var error = parent.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(run, "run.json")) && !parent.HasExited && clock.Elapsed < TimeSpan.FromSeconds(120))
        {
            Thread.Sleep(100);
        }
        Assert.False(parent.HasExited, $"gsurg ended early: {(parent.HasExited ? await error : "")}");
        var child = Children(parent.Id).Single();
        Assert.Contains($"{Gen0Budget.Variable}={Gen0Budget.Value}", File.ReadAllText($"/proc/{child}/environ").Split('\0'));

        using (var kill = Process.Start("kill", ["-TERM", parent.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }
        Assert.True(parent.WaitForExit(TimeSpan.FromSeconds(120)), "gsurg did not stop after SIGTERM.");
        Assert.True(parent.ExitCode == 0, await error);
        Assert.Contains("Stopped after", await output);
        Assert.True(File.Exists(Path.Combine(run, "checkpoint.bin")));
    }

    [Fact]
    public void ARestartedGsurgPassesOnItsExitCode()
    {
        using var process = Process.Start(Gsurg("train", "--epochs", "-1"))!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(GsurgApp.UsageError, process.ExitCode);
        Assert.Contains("--epochs must be a positive integer", error);
    }

    /// <summary>The processes whose parent is <paramref name="pid"/> (from /proc/*/stat: the field after the state).</summary>
    private static IEnumerable<int> Children(int pid) =>
        Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Where(name => int.TryParse(name, out _))
            .Select(name =>
            {
                try
                {
                    var stat = File.ReadAllText($"/proc/{name}/stat");
                    // pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    return (Pid: int.Parse(name!, CultureInfo.InvariantCulture), Parent: int.Parse(fields[1], CultureInfo.InvariantCulture));
                }
                catch (IOException)
                {
                    return (Pid: -1, Parent: -1);
                }
            })
            .Where(p => p.Parent == pid)
            .Select(p => p.Pid);
}
