using System.Text.Json;
using System.Text.Json.Nodes;
using GradientSurgery.Experiments.Reinforcement;
using GradientSurgery.Rl;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Rl;

/// <summary>
/// <see cref="SacSettings.TaskGradients"/>: an aggregator's task gradients from one backward pass and from one pass per
/// task give the same agent, and the setting keeps older checkpoints' settings readable.
/// </summary>
public sealed class TaskGradientsTests
{
    private const int Tasks = 3;
    private const int ObservationSize = 5;
    private const int ActionSize = 2;
    private const int PerTask = 8;

    [Theory]
    [InlineData("pcgrad")]
    [InlineData("mgda")]
    [InlineData("cagrad")]
    public void OnePassAndTaskPassesTrainTheSameAgent(string method)
    {
        // A learning rate of 3·10⁻³ lets three Adam steps separate the aggregators from the mean by far more than the tolerance.
        var settings = new SacSettings([16, 16], BatchPerTask: PerTask, LearningRate: 3e-3);
        using var onePass = new MultiTaskSac(method, Tasks, ObservationSize, ActionSize, settings, seed: 7);
        using var taskPasses = new MultiTaskSac(method, Tasks, ObservationSize, ActionSize, settings with { TaskGradients = TaskGradients.TaskPasses }, seed: 7);
        // The mean of the task losses on the same data: the aggregator must make a difference larger than the tolerance,
        // or agreement between the two routes would prove nothing.
        using var mean = new MultiTaskSac("mtsac", Tasks, ObservationSize, ActionSize, settings, seed: 7);
        var initial = Parameters(onePass);
        var random = new SplitMix64(11);
        for (var update = 0; update < 3; update++)
        {
            var batch = RandomBatch(random);
            var a = onePass.Update(batch);
            var b = taskPasses.Update(batch);
            mean.Update(batch);
            // The losses before each update agree too: the two agents are on the same path at every step.
            AssertClose(a.CriticLosses, b.CriticLosses, $"critic losses of update {update}");
            AssertClose(a.ActorLosses, b.ActorLosses, $"actor losses of update {update}");
        }
        var one = Parameters(onePass);
        AssertClose(one, Parameters(taskPasses), "parameters after three updates");
        AssertClose(onePass.Temperatures(), taskPasses.Temperatures(), "temperatures");
        Assert.True(MaxDifference(one, initial) > 1e-4, "the updates moved the parameters");
        Assert.True(MaxDifference(one, Parameters(mean)) > 1e-4, $"{method} differs from the mean of the task losses on this data");
    }

    [Fact]
    public void SettingsWithoutTheTaskGradientsReadAsOnePassAndResumeUnderTheDefaults()
    {
        var current = RlSettings.Defaults("pointmass", "pcgrad", seed: 1);
        var json = JsonNode.Parse(JsonSerializer.Serialize(current))!.AsObject();
        // A checkpoint written before the setting existed has no such property.
        Assert.True(json["Sac"]!.AsObject().Remove(nameof(SacSettings.TaskGradients)));
        var stored = JsonSerializer.Deserialize<RlSettings>(json.ToJsonString())!;
        Assert.Equal(TaskGradients.OnePass, stored.Sac.TaskGradients);
        Assert.True(current.CanResume(stored));

        var passes = current with { Sac = current.Sac with { TaskGradients = TaskGradients.TaskPasses } };
        Assert.Contains("\"TaskGradients\":\"TaskPasses\"", JsonSerializer.Serialize(passes), StringComparison.Ordinal);
        Assert.Equal(TaskGradients.TaskPasses, JsonSerializer.Deserialize<RlSettings>(JsonSerializer.Serialize(passes))!.Sac.TaskGradients);
        Assert.False(passes.CanResume(stored));
    }

    [Fact]
    public void AnUndefinedTaskGradientsValueIsRefused()
    {
        var bad = new SacSettings([8], TaskGradients: (TaskGradients)7);
        Assert.Equal(nameof(SacSettings.TaskGradients), Assert.Throws<ArgumentException>(bad.Validate).ParamName);
    }

    private static ReplayBatch RandomBatch(SplitMix64 random)
    {
        var rows = Tasks * PerTask;
        float[] Uniform(int count, double scale) => [.. Enumerable.Range(0, count).Select(_ => (float)(scale * ((2 * random.NextDouble()) - 1)))];
        return new ReplayBatch(PerTask, Uniform(rows * ObservationSize, 2), Uniform(rows * ActionSize, 0.99), Uniform(rows, 1),
            Uniform(rows * ObservationSize, 2), [.. Enumerable.Range(0, rows).Select(r => r % 5 == 0 ? 1f : 0f)],
            [.. Enumerable.Range(0, rows).Select(r => (long)(r / PerTask))]);
    }

    /// <summary>The actor's and the online critics' parameters, flattened in order.</summary>
    private static double[] Parameters(MultiTaskSac agent)
    {
        using var scope = NewDisposeScope();
        return [.. agent.Actor.parameters().Concat(agent.Critic.parameters())
            .SelectMany(p => p.detach().to(ScalarType.Float64).reshape(-1).data<double>().ToArray())];
    }

    private static double MaxDifference(double[] a, double[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    private static void AssertClose(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        // float32 networks; the two routes sum the same products in another order (observed: parameters within 2·10⁻⁸).
        var worst = Enumerable.Range(0, expected.Length).MaxBy(k => Math.Abs(expected[k] - actual[k]) - (1e-5 * Math.Abs(expected[k])));
        Assert.True(Math.Abs(expected[worst] - actual[worst]) <= 1e-6 + (1e-5 * Math.Abs(expected[worst])),
            $"{what}: entry {worst} is {actual[worst]}, expected {expected[worst]}");
    }
}
