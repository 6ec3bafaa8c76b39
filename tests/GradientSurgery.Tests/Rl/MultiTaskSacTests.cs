using GradientSurgery.Rl;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Rl;

/// <summary>The multi-task SAC agent: every variant updates, tasks stay apart where they must, and a saved agent continues exactly.</summary>
public sealed class MultiTaskSacTests
{
    private const int Tasks = 3;
    private const int ObservationSize = 5;
    private const int ActionSize = 2;
    private const int PerTask = 6;

    private static MultiTaskSac Agent(string method, long seed = 4) =>
        new(method, Tasks, ObservationSize, ActionSize, new SacSettings([12, 12], BatchPerTask: PerTask), seed);

    // A task-balanced batch of random transitions; task 0's rewards shifted by rewardShift.
    private static ReplayBatch Batch(int seed, float rewardShift = 0)
    {
        var random = new Random(seed);
        float[] Values(int count, double scale = 1) => [.. Enumerable.Range(0, count).Select(_ => (float)(scale * ((2 * random.NextDouble()) - 1)))];
        var rows = Tasks * PerTask;
        var ids = Enumerable.Range(0, rows).Select(i => (long)(i / PerTask)).ToArray();
        var rewards = Values(rows);
        for (var i = 0; i < PerTask; i++)
        {
            rewards[i] += rewardShift;
        }
        return new ReplayBatch(PerTask, Values(rows * ObservationSize), Values(rows * ActionSize), rewards, Values(rows * ObservationSize), new float[rows], ids);
    }

    private static Dictionary<string, float[]> Parameters(nn.Module module) =>
        module.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().contiguous().data<float>().ToArray());

    private static byte[] Saved(MultiTaskSac agent)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            agent.Save(writer);
        }
        return stream.ToArray();
    }

    [Theory]
    [InlineData("mtsac", false)]
    [InlineData("mhsac", false)]
    [InlineData("single", false)]
    [InlineData("pcgrad", true)]
    [InlineData("cagrad", true)]
    [InlineData("mgda", true)]
    [InlineData("stch", false)]
    public void EveryVariantUpdatesBothNetworksAndReportsConflictsWhereItFormsTaskGradients(string method, bool formsTaskGradients)
    {
        using var agent = Agent(method);
        var (actorBefore, criticBefore) = (Parameters(agent.Actor), Parameters(agent.Critic));
        var report = agent.Update(Batch(1));
        report = agent.Update(Batch(2));
        Assert.Equal(Tasks, report.CriticLosses.Length);
        Assert.Equal(Tasks, report.ActorLosses.Length);
        Assert.All(report.CriticLosses.Concat(report.ActorLosses).Append(report.MeanQ), v => Assert.True(double.IsFinite(v)));
        Assert.All(report.Temperatures, a => Assert.InRange(a, 0.99, 1.01));   // two Adam steps of 3e-4 from α = 1
        Assert.Equal(formsTaskGradients, report.CriticConflicts is not null);
        Assert.Equal(formsTaskGradients, report.ActorConflicts is not null);
        var (actorAfter, criticAfter) = (Parameters(agent.Actor), Parameters(agent.Critic));
        Assert.All(actorBefore, p => Assert.NotEqual(p.Value, actorAfter[p.Key]));
        Assert.All(criticBefore, p => Assert.NotEqual(p.Value, criticAfter[p.Key]));
    }

    [Fact]
    public void OneSacPerTaskTrainsEachTasksNetworksOnItsOwnSamplesOnly()
    {
        using var reference = Agent("single");
        using var shifted = Agent("single");
        reference.Update(Batch(1));
        shifted.Update(Batch(1, rewardShift: 5));
        reference.Update(Batch(2));
        shifted.Update(Batch(2));
        foreach (var (network, other) in new (nn.Module, nn.Module)[] { (reference.Critic, shifted.Critic), (reference.Actor, shifted.Actor) })
        {
            var (mine, theirs) = (Parameters(network), Parameters(other));
            foreach (var (name, values) in mine)
            {
                // Task 0's networks saw other rewards; tasks 1 and 2's are bit for bit the same.
                Assert.Equal(name.Contains("_perTask.0.", StringComparison.Ordinal), !values.SequenceEqual(theirs[name]));
            }
        }
    }

    [Theory]
    [InlineData("mtsac")]
    [InlineData("single")]
    [InlineData("pcgrad")]
    [InlineData("stch")]
    public void ASavedAgentContinuesBitForBit(string method)
    {
        using var original = Agent(method);
        original.Update(Batch(1));
        original.Update(Batch(2));
        using var restored = Agent(method, seed: 99);   // other initial weights and noise: all of it must come from the file
        restored.Load(new BinaryReader(new MemoryStream(Saved(original))));
        Assert.Equal(Saved(original), Saved(restored));
        var (a, b) = (original.Update(Batch(3)), restored.Update(Batch(3)));
        Assert.Equal(a.CriticLosses, b.CriticLosses);
        Assert.Equal(a.ActorLosses, b.ActorLosses);
        Assert.Equal(Saved(original), Saved(restored));
        var actions = new float[2 * Tasks * ActionSize];
        var other = new float[actions.Length];
        var observations = Batch(4).Observations.AsSpan(0, 2 * Tasks * ObservationSize).ToArray();
        int[] ids = [0, 1, 2, 0, 1, 2];
        original.Act(observations, ids, deterministic: false, actions);
        restored.Act(observations, ids, deterministic: false, other);
        Assert.Equal(actions, other);
    }

    [Fact]
    public void LoadingAnotherAgentsFileNamesWhatDoesNotFit()
    {
        using var original = Agent("mtsac");
        using var wider = new MultiTaskSac("mtsac", Tasks, ObservationSize, ActionSize, new SacSettings([16, 12], BatchPerTask: PerTask), 4);
        var error = Assert.Throws<InvalidDataException>(() => wider.Load(new BinaryReader(new MemoryStream(Saved(original)))));
        Assert.Contains("hidden 16-12", error.Message);
        var truncated = Saved(original)[..100];
        Assert.Throws<InvalidDataException>(() => original.Load(new BinaryReader(new MemoryStream(truncated))));
    }

    [Fact]
    public void TheMeanActionIsDeterministicAndBadShapesAreRefused()
    {
        using var agent = Agent("pcgrad");
        var observations = Batch(5).Observations.AsSpan(0, Tasks * ObservationSize).ToArray();
        var (first, second) = (new float[Tasks * ActionSize], new float[Tasks * ActionSize]);
        agent.Act(observations, [0, 1, 2], deterministic: true, first);
        agent.Act(observations, [0, 1, 2], deterministic: true, second);
        Assert.Equal(first, second);
        Assert.All(first, a => Assert.InRange(a, -1f, 1f));
        Assert.Contains("Expected 2 rows", Assert.Throws<ArgumentException>(() => agent.Act(observations, [0, 1], deterministic: true, first)).Message);
        var wrongTasks = Batch(6) with { PerTask = PerTask + 1 };
        Assert.Contains("3 tasks", Assert.Throws<ArgumentException>(() => agent.Update(wrongTasks)).Message);
    }

    [Theory]
    [InlineData("MTSAC", "mtsac", NetworkSharing.OneHot)]
    [InlineData("mhsac", "mhsac", NetworkSharing.MultiHead)]
    [InlineData(" single ", "single", NetworkSharing.Independent)]
    [InlineData("PCGrad", "pcgrad", NetworkSharing.OneHot)]
    [InlineData("cagrad:c=0.4", "cagrad:c=0.4", NetworkSharing.OneHot)]
    public void MethodsParseToTheirSharing(string specification, string name, NetworkSharing sharing)
    {
        var method = SacMethod.Parse(specification, seed: 0);
        Assert.Equal(sharing, method.Sharing);
        Assert.StartsWith(name, method.Name, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dwa", "DWA")]
    [InlineData("famo", "FAMO")]
    [InlineData("uw", "UW")]
    [InlineData("dbmtl", "DB-MTL")]
    public void MethodsDefinedOnlyForNonNegativeLossesAreRefusedUpFront(string specification, string name)
    {
        var error = Assert.Throws<ArgumentException>(() => SacMethod.Parse(specification, seed: 0));
        Assert.StartsWith($"{name} needs non-negative task losses", error.Message, StringComparison.Ordinal);
        Assert.Contains("stch", error.Message);
    }

    [Fact]
    public void AnUnknownMethodListsTheVariantsAndTheCatalog()
    {
        var error = Assert.Throws<ArgumentException>(() => SacMethod.Parse("sacx", seed: 0));
        Assert.Contains("sacx", error.Message);
        Assert.Contains("mtsac, mhsac, single", error.Message);
        Assert.Contains("pcgrad", error.Message);
    }
}
