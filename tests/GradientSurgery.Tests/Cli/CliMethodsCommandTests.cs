using GradientSurgery.Cli;

namespace GradientSurgery.Tests.Cli;

/// <summary><c>gsurg methods</c> lists the catalog, and docs/methods.md is its <c>--markdown</c> output, so the page cannot rot.</summary>
public sealed class CliMethodsCommandTests
{
    private const string StartMarker = "<!-- gsurg methods --markdown -->";
    private const string EndMarker = "<!-- end -->";

    private static (int Code, string Output, string Error) Run(params string[] args) => GsurgConsole.Run(args);

    [Fact]
    public void ListsEveryMethodKeyAndAliasWithinTheConsoleWidth()
    {
        var (code, output, error) = Run("methods");
        Assert.True(code == GsurgApp.Success, error);
        Assert.Empty(error);
        var words = output.Split((char[])[' ', '\n', '\r', ',', '(', ')'], StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        foreach (var method in MethodCatalog.All)
        {
            Assert.Contains(method.Name, words);
            Assert.All(method.Aliases, alias => Assert.Contains(alias, words));
            Assert.Contains(method.DisplayName, output);
            foreach (var parameter in MethodCatalog.Parameters(method))
            {
                Assert.Contains(parameter.Name, words);
                Assert.All(parameter.Aliases, alias => Assert.Contains(alias, words));
                // A default may be a phrase ("the training loop's"), which the listing may wrap.
                Assert.All(parameter.Default.Split(' '), word => Assert.Contains(word, words));
            }
        }
        Assert.DoesNotContain("seed", words);
        var lines = output.ReplaceLineEndings("\n").Split('\n');
        Assert.All(lines, line => Assert.True(line.Length <= 80 && !line.EndsWith(' '), $"'{line}' is wider than the console or padded"));
    }

    [Fact]
    public void MarkdownHasOneRowPerMethodWithItsKeys()
    {
        var (code, output, error) = Run("methods", "--markdown");
        Assert.True(code == GsurgApp.Success, error);
        var rows = output.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal(MethodCatalog.All.Count + 2, rows.Length);
        Assert.Equal(
            "| aggregator | `mean` | `ew` | Mean (EW) | – | equal weighting: one backward of the mean loss |",
            rows.Single(r => r.Contains("| `mean` |", StringComparison.Ordinal)));
        var famo = rows.Single(r => r.Contains("| `famo` |", StringComparison.Ordinal));
        Assert.Contains("| loss weighting | `famo` |", famo);
        Assert.Contains("`logitLearningRate` (`lr`) = `0.025` (number)<br>`decay` (`gamma`) = `0.001` (number)<br>`update` = `adam` (`adam` or `gradientdescent`)", famo);
        Assert.Contains("`reduction` = `sum` (`sum` or `mean`)", rows.Single(r => r.Contains("| `pcgrad` |", StringComparison.Ordinal)));
    }

    [Fact]
    public void DocsMethodArgumentsSectionIsTheMarkdownOutput()
    {
        var (code, output, error) = Run("methods", "--markdown");
        Assert.True(code == GsurgApp.Success, error);
        var docs = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "methods.md")).ReplaceLineEndings("\n");
        var start = docs.IndexOf(StartMarker + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"docs/methods.md has no '{StartMarker}' line.");
        start += StartMarker.Length + 1;
        var end = docs.IndexOf("\n" + EndMarker, start - 1, StringComparison.Ordinal);
        Assert.True(end >= start - 1, $"docs/methods.md has no '{EndMarker}' line after '{StartMarker}'.");
        // Regenerate with: dotnet run --project src/GradientSurgery.Cli -c Release -- methods --markdown
        Assert.Equal(output.ReplaceLineEndings("\n"), docs[start..(end + 1)]);
    }

    [Fact]
    public void EveryMethodHasARowInTheHandWrittenTablesOfDocs()
    {
        var docs = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "methods.md")).ReplaceLineEndings("\n");
        var generated = docs.IndexOf(StartMarker, StringComparison.Ordinal);
        Assert.True(generated >= 0, $"docs/methods.md has no '{StartMarker}' line.");
        var rows = docs[..generated].Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)).ToArray();
        foreach (var method in MethodCatalog.All)
        {
            var row = Assert.Single(rows, r => r.StartsWith($"| `{method.Name}` ", StringComparison.Ordinal));
            var nameCell = row.Split(" | ")[0];
            Assert.All(method.Aliases, alias => Assert.Contains($"`{alias}`", nameCell));
        }
        Assert.Equal(MethodCatalog.All.Count, rows.Length);
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
