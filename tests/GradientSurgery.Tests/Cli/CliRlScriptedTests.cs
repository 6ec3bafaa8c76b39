using System.Globalization;
using GradientSurgery.Cli;
using GradientSurgery.Environments;

namespace GradientSurgery.Tests.Cli;

/// <summary><c>gsurg rl scripted</c>: every task's scripted policy, its CSV, its pictures and its errors.</summary>
public sealed class CliRlScriptedTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-rl-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void ThePointMassSuiteIsSolvedAndTheCsvAndPicturesAreWritten()
    {
        var (code, output, error) = GsurgConsole.Run("rl", "scripted", "--suite", "pointmass", "--episodes", "5", "--seed", "3", "--out", _directory);
        Assert.True(code == GsurgApp.Success, error);
        var lines = File.ReadAllLines(Path.Combine(_directory, "scripted.csv"));
        Assert.Equal("task,success_rate,mean_return,steps_per_second", lines[0]);
        Assert.Equal(["goal-0", "goal-1", "goal-2", "goal-3"], lines.Skip(1).Select(l => l.Split(',')[0]));
        Assert.All(lines.Skip(1).Select(l => l.Split(',')), row =>
        {
            Assert.Equal(1.0, double.Parse(row[1], CultureInfo.InvariantCulture));
            Assert.InRange(double.Parse(row[2], CultureInfo.InvariantCulture), 0.0, 50.0);
            Assert.True(double.Parse(row[3], CultureInfo.InvariantCulture) > 0);
        });
        Assert.All(Enumerable.Range(0, 4), t => Assert.True(new FileInfo(Path.Combine(_directory, $"trajectories-goal-{t}.png")).Length > 1000));
        Assert.Contains("goal-3", output);
        Assert.DoesNotContain("Below 90 %", output);
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp*"));
    }

    [GradientSurgery.Tests.Environments.MuJoCoFact]
    public void TheManipulationTasksAreSolvedAndDrawnFromTheSide()
    {
        var (code, _, error) = GsurgConsole.Run("rl", "scripted", "--suite", "mt10", "--episodes", "2", "--out", _directory);
        Assert.True(code == GsurgApp.Success, error);
        var rows = File.ReadAllLines(Path.Combine(_directory, "scripted.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.Equal(["reach", "push", "pick-place", "drawer-open", "drawer-close", "window-open", "window-close", "button-press-topdown", "door-open", "peg-insert-side"], rows.Select(r => r[0]));
        Assert.All(rows, r => Assert.Equal("1", r[1]));
        Assert.True(File.Exists(Path.Combine(_directory, "trajectories-push.png")));
    }

    [Fact]
    public void AnUnknownSuiteIsAUsageErrorOnOneLine()
    {
        var (code, _, error) = GsurgConsole.Run("rl", "scripted", "--suite", "mt99", "--out", _directory);
        Assert.Equal(GsurgApp.UsageError, code);
        Assert.Equal("gsurg: Unknown suite 'mt99'. Known suites: pointmass, mt10 (MuJoCo).", error.Trim());
        Assert.Equal(GsurgApp.UsageError, GsurgConsole.Run("rl", "scripted", "--episodes", "0").Code);
    }

    [Fact]
    public void TheEvaluationIsDeterministicAndRecordsTheRequestedEpisodes()
    {
        var suite = Suite.Find("pointmass");
        var a = ScriptedEvaluation.Run(suite, episodes: 4, seed: 11, recorded: 2);
        var b = ScriptedEvaluation.Run(suite, episodes: 4, seed: 11, recorded: 2);
        Assert.Equal(a.Select(r => r.MeanReturn), b.Select(r => r.MeanReturn));
        Assert.All(a, r => Assert.Equal(2, r.Trajectories.Count));
        Assert.All(a, r => Assert.Equal(51, r.Trajectories[0].Hand.Count));
        Assert.All(a.SelectMany(r => r.Trajectories), t => Assert.True(t.Success));
    }
}
