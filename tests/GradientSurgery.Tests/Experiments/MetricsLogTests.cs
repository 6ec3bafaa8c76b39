using GradientSurgery.Experiments.Logging;

namespace GradientSurgery.Tests.Experiments;

public sealed class MetricsLogTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-metrics-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Each row is on disk when Write returns, so a long run can be followed and a killed one keeps its rows.</summary>
    [Fact]
    public void RowsReachTheFileBeforeTheLogIsClosed()
    {
        var path = Path.Combine(_directory, "metrics.csv");
        using var log = new MetricsLog(path, ["method"], ["loss", "accuracy"], tensorBoardDirectory: null, stepColumn: "epoch");
        Assert.Equal(["method,epoch,loss,accuracy"], ReadShared(path));
        log.Write(["pcgrad"], 1, [0.5, double.NaN]);
        Assert.Equal(["method,epoch,loss,accuracy", "pcgrad,1,0.5,"], ReadShared(path));
    }

    private static string[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
    }
}
