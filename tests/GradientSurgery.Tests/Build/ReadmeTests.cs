namespace GradientSurgery.Tests.Build;

/// <summary>The README's quick start is the sample that .ci/run builds and runs, so it cannot rot.</summary>
public sealed class ReadmeTests
{
    [Fact]
    public void QuickStartBlockEqualsTheSample()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllLines(Path.Combine(root, "README.md"));
        var heading = Array.IndexOf(readme, "## Quick start");
        Assert.True(heading >= 0, "README.md has no '## Quick start' section.");
        var start = Array.IndexOf(readme, "```csharp", heading);
        var end = Array.IndexOf(readme, "```", start + 1);
        Assert.True(start > heading && end > start, "The quick start has no ```csharp block.");
        var sample = File.ReadAllLines(Path.Combine(root, "samples", "QuickStart", "Program.cs"));
        Assert.Equal(sample, readme[(start + 1)..end]);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "GradientSurgery.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new DirectoryNotFoundException($"No GradientSurgery.slnx above {AppContext.BaseDirectory}.");
    }
}
