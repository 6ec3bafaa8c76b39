using GradientSurgery.Experiments;

namespace GradientSurgery.Tests.Experiments;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-atomic-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void ReplacesTheFileAndLeavesNoTemporaryBehind()
    {
        var path = Path.Combine(_directory, "run.json");
        File.WriteAllText(path, "old");
        AtomicFile.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_directory));
    }

    /// <summary>A writer that fails half-way (a full disk, a kill) must leave the previous file as it was.</summary>
    [Fact]
    public void AFailedWriteKeepsThePreviousFile()
    {
        var path = Path.Combine(_directory, "figure.png");
        File.WriteAllText(path, "previous");
        var failure = Assert.Throws<IOException>(() => AtomicFile.Write(path, temporary =>
        {
            Assert.Equal(".png", Path.GetExtension(temporary));
            File.WriteAllText(temporary, "half");
            throw new IOException("disk full");
        }));
        Assert.Equal("disk full", failure.Message);
        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_directory));
    }

    [Fact]
    public void CreatesTheDirectory()
    {
        var path = Path.Combine(_directory, "a", "b", "summary.md");
        AtomicFile.WriteAllText(path, "table");
        Assert.Equal("table", File.ReadAllText(path));
    }
}
