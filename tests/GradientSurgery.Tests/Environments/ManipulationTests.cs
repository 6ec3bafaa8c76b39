using GradientSurgery.Environments;
using GradientSurgery.Environments.Manipulation;
using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Tests.Environments;

/// <summary>The MuJoCo manipulation tasks: layout, determinism, bad actions, and that every scripted policy solves its task.</summary>
public sealed class ManipulationTests
{
    private static float[] Run(Suite suite, int task, ulong seed, int steps, Func<int, float[]> actions)
    {
        using var environment = suite.Create(task);
        var observation = new float[ManipulationEnvironment.ObservationLength];
        environment.Reset(seed, observation);
        var trace = new List<float>(observation);
        for (var t = 0; t < steps; t++)
        {
            environment.Step(actions(t), observation);
            trace.AddRange(observation);
        }
        return [.. trace];
    }

    [MuJoCoFact]
    public void TheSameSeedAndActionsGiveTheSameTrajectoryBitForBit()
    {
        var suite = ManipulationSuite.Create();
        float[] Actions(int t) => [MathF.Sin(t), MathF.Cos(0.7f * t), -0.5f, t % 20 < 10 ? 1 : -1];
        var push = suite.TaskNames.ToList().IndexOf("push");
        Assert.Equal(Run(suite, push, 4, 60, Actions), Run(suite, push, 4, 60, Actions));
        Assert.NotEqual(Run(suite, push, 4, 0, Actions), Run(suite, push, 5, 0, Actions));
    }

    [MuJoCoFact]
    public void TheObservationFollowsTheLayoutAndTheEpisodeItsLength()
    {
        var suite = ManipulationSuite.Create();
        var push = suite.TaskNames.ToList().IndexOf("push");
        using var environment = suite.Create(push);
        Assert.Equal(new EnvironmentSpec("push", 39, 4, 500), environment.Spec);
        var o = new float[39];
        environment.Reset(7, o);
        Assert.Equal([0f, 0.6f, 0.2f], o[..3].Select(v => MathF.Round(v, 3)));
        Assert.Equal(1f, o[ManipulationEnvironment.GripperIndex]);
        Assert.InRange(o[4], -0.1f, 0.1f);
        Assert.InRange(o[5], 0.6f, 0.7f);
        Assert.Equal(0.02f, o[6], 3);
        Assert.Equal([1f, 0f, 0f, 0f], o[7..11].Select(v => MathF.Round(v, 6)));
        Assert.All(o[11..18], v => Assert.Equal(0f, v));
        Assert.Equal(o[..18], o[18..36]);
        Assert.InRange(o[37], 0.8f, 0.9f);
        StepResult last = default;
        for (var t = 0; t < 500; t++)
        {
            Assert.False(last.Done);
            last = environment.Step([0f, 0f, 0f, -1f], o);
            Assert.InRange(last.Reward, 0.0, 1.0);
        }
        Assert.True(last.Truncated);
        Assert.Throws<InvalidOperationException>(() => environment.Step([0f, 0f, 0f, 0f], o));
    }

    [MuJoCoFact]
    public void ActionsAreClippedAndNonFiniteOnesAreRefusedWithTheTaskAndStep()
    {
        var suite = ManipulationSuite.Create();
        Assert.Equal(Run(suite, 0, 1, 5, _ => [5f, -5f, 5f, 5f]), Run(suite, 0, 1, 5, _ => [1f, -1f, 1f, 1f]));
        using var environment = suite.Create(0);
        var o = new float[39];
        environment.Reset(1, o);
        environment.Step([0f, 0f, 0f, 0f], o);
        var error = Assert.Throws<ArgumentException>(() => environment.Step([0f, float.NaN, 0f, 0f], o));
        Assert.Contains("Task reach, step 1: action entry 1 is NaN", error.Message);
    }

    [MuJoCoFact]
    public void NoTaskIsSolvedByAnIdleHandAndEveryRewardStaysInItsBounds()
    {
        // A success criterion that an idle hand meets, or a reward outside [0, 1], would make a task meaningless to learn.
        var suite = ManipulationSuite.Create();
        for (var task = 0; task < suite.TaskNames.Count; task++)
        {
            using var environment = suite.Create(task);
            var o = new float[ManipulationEnvironment.ObservationLength];
            for (ulong seed = 0; seed < 3; seed++)
            {
                environment.Reset(seed, o);
                for (var t = 0; t < 100; t++)
                {
                    var result = environment.Step([0f, 0f, 0f, -1f], o);
                    Assert.False(result.Success, $"{suite.TaskNames[task]}, seed {seed}, step {t}: solved by an idle hand");
                    Assert.InRange(result.Reward, 0.0, 1.0);
                    Assert.All(o, v => Assert.True(float.IsFinite(v)));
                }
            }
        }
    }

    [MuJoCoFact]
    public void EveryTaskReplaysBitForBitFromItsSeed()
    {
        var suite = ManipulationSuite.Create();
        float[] Actions(int t) => [MathF.Sin(0.3f * t), MathF.Cos(0.2f * t), -0.3f, t % 30 < 15 ? 1 : -1];
        for (var task = 0; task < suite.TaskNames.Count; task++)
        {
            Assert.Equal(Run(suite, task, 11, 40, Actions), Run(suite, task, 11, 40, Actions));
            Assert.NotEqual(Run(suite, task, 11, 0, Actions), Run(suite, task, 12, 0, Actions));
        }
    }

    [MuJoCoFact]
    public void EveryScriptedPolicySolvesItsTaskOnAHandfulOfSeeds()
    {
        var results = ScriptedEvaluation.Run(ManipulationSuite.Create(), episodes: 4, seed: 2026, recorded: 0);
        Assert.All(results, r => Assert.True(r.SuccessRate == 1.0, $"{r.Task}: {r.SuccessRate:P0} success"));
    }

    [Fact]
    public void WithoutMuJoCoTheSuiteSaysWhichPackageToInstall()
    {
        if (MuJoCoLibrary.IsAvailable)
        {
            Assert.Equal("mt10", ManipulationSuite.Create().Name);
            return;
        }
        var error = Assert.Throws<MuJoCoUnavailableException>(ManipulationSuite.Create);
        Assert.Contains("apt-get install libmujoco2.2.2", error.Message);
    }
}
