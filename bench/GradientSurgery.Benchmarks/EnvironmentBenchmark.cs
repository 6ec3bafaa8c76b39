using System.Diagnostics;
using System.Globalization;
using System.Text;
using GradientSurgery.Environments;
using GradientSurgery.Environments.Manipulation;
using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Benchmarks;

/// <summary>
/// What a manipulation environment costs over the physics it runs: for every task of the suite, control steps per
/// second of the environment with random actions, against raw <c>mj_step</c> calls on the same model driven along the
/// same path, in one process and one thread, the two alternating episode by episode.
/// </summary>
/// <remarks>
/// The raw phase is a replay, not a free run: from each episode's reset state (taken from the environment's own reset
/// with the same seed) it moves the hand target and the gripper servos exactly as the environment does for the same
/// actions, so MuJoCo sees the same motions, contacts and solver work. Only the <see cref="ManipulationEnvironment.FrameSkip"/>
/// <c>mj_step</c> calls of each control step are timed (with the hand target's per-step interpolation writes between
/// them, a few nanoseconds); action clipping, control computation and resets are not. The environment phase times each
/// <see cref="IEnvironment.Step"/> call and leaves resets out too, so ratio = environment step time / FrameSkip physics
/// steps time is the environment's overhead alone: observation, reward, success, clipping and the calls into MuJoCo.
/// Each episode runs in the environment and is replayed right after (or before: the order flips every episode and
/// every repeat), so that both see the machine in the same state. Both must end each episode in the same state, bit for
/// bit: a difference means the replay's copy of the control law no longer matches the environment's, and is reported.
/// </remarks>
internal static class EnvironmentBenchmark
{
    /// <summary>The issue's target: an environment step costs at most this many times its physics steps.</summary>
    public const double Target = 1.25;

    private const ulong ActionSeed = 1;

    private sealed record TaskResult(string Task, double EnvStepsPerSecond, double PhysicsStepsPerSecond, double Ratio, double RatioMin, double RatioMax, bool SameTrajectory, int Unstable);

    /// <summary>Runs the benchmark; returns the process exit code (2 when MuJoCo is absent).</summary>
    public static int Run(int steps, int repeats, string outputDirectory)
    {
        Suite suite;
        try
        {
            suite = ManipulationSuite.Create();
        }
        catch (MuJoCoUnavailableException missing)
        {
            Console.Error.WriteLine(missing.Message);
            return 2;
        }
        var count = suite.TaskNames.Count;
        var environments = new List<ManipulationEnvironment>();
        var raws = new List<MjData>();
        try
        {
            for (var task = 0; task < count; task++)
            {
                var environment = suite.Create(task);
                if (environment is not ManipulationEnvironment manipulation)
                {
                    environment.Dispose();
                    throw new InvalidOperationException($"Task {suite.TaskNames[task]} is not a ManipulationEnvironment; the benchmark needs its simulation.");
                }
                environments.Add(manipulation);
                // The same compiled model, so model-side data is shared and equally warm in caches for both phases.
                raws.Add(new MjData(manipulation.Data.Model));
            }
            var actions = RandomActions(steps);

            // Warm-up: JIT tiers and caches settle before anything is timed.
            for (var task = 0; task < count; task++)
            {
                Measure(environments[task], raws[task], actions, Math.Min(steps, ManipulationEnvironment.EpisodeLength), environmentFirst: true);
            }

            var envSeconds = new List<double>[count];
            var rawSeconds = new List<double>[count];
            var same = new bool[count];
            for (var task = 0; task < count; task++)
            {
                (envSeconds[task], rawSeconds[task], same[task]) = ([], [], true);
            }
            for (var repeat = 0; repeat < repeats; repeat++)
            {
                for (var task = 0; task < count; task++)
                {
                    var run = Measure(environments[task], raws[task], actions, steps, environmentFirst: repeat % 2 == 0);
                    envSeconds[task].Add(run.EnvSeconds);
                    rawSeconds[task].Add(run.RawSeconds);
                    same[task] &= run.Same;
                }
                Console.Error.WriteLine($"repeat {repeat + 1}/{repeats} done");
            }

            var results = new List<TaskResult>();
            for (var task = 0; task < count; task++)
            {
                var ratios = envSeconds[task].Zip(rawSeconds[task], (e, r) => e / r).ToList();
                results.Add(new TaskResult(
                    suite.TaskNames[task],
                    StepBenchmark.Median([.. envSeconds[task].Select(s => steps / s)]),
                    StepBenchmark.Median([.. rawSeconds[task].Select(s => steps * ManipulationEnvironment.FrameSkip / s)]),
                    StepBenchmark.Median(ratios),
                    ratios.Min(),
                    ratios.Max(),
                    same[task],
                    environments[task].UnstableEpisodes));
            }
            Write(results, steps, repeats, outputDirectory);
            return 0;
        }
        finally
        {
            raws.ForEach(r => r.Dispose());
            environments.ForEach(e => e.Dispose());
        }
    }

    /// <summary>Actions drawn uniformly from [−1, 1]⁴, made before timing so that drawing them costs neither phase.</summary>
    private static float[][] RandomActions(int steps)
    {
        var random = new SplitMix64(ActionSeed);
        var actions = new float[steps][];
        for (var t = 0; t < steps; t++)
        {
            actions[t] = new float[4];
            for (var i = 0; i < 4; i++)
            {
                actions[t][i] = (float)((2 * random.NextDouble()) - 1);
            }
        }
        return actions;
    }

    /// <summary>
    /// One repeat of one task: <paramref name="steps"/> control steps episode by episode (seeds 0, 1, …), each episode
    /// run by the environment and replayed on raw physics back to back, the two in alternating order, so that both
    /// phases see the machine in the same state. Returns the seconds each phase spent stepping, and whether every
    /// replayed episode ended in the environment's state.
    /// </summary>
    private static (double EnvSeconds, double RawSeconds, bool Same) Measure(ManipulationEnvironment environment, MjData raw, float[][] actions, int steps, bool environmentFirst)
    {
        var observation = new float[ManipulationEnvironment.ObservationLength];
        var target = 3 * raw.Model.BodyMocapId[raw.Model.RequireId(MjObjectType.Body, "hand_target")];
        long envTicks = 0, rawTicks = 0;
        var same = true;
        ulong seed = 0;
        for (var offset = 0; offset < steps; seed++)
        {
            var length = Math.Min(ManipulationEnvironment.EpisodeLength, steps - offset);
            (long Ticks, int Steps, double[] Final) env, replay;
            if (environmentFirst)
            {
                env = EnvironmentEpisode(environment, actions.AsSpan(offset, length), seed, observation);
                replay = RawEpisode(environment, raw, target, actions.AsSpan(offset, length), seed, observation);
            }
            else
            {
                replay = RawEpisode(environment, raw, target, actions.AsSpan(offset, length), seed, observation);
                env = EnvironmentEpisode(environment, actions.AsSpan(offset, length), seed, observation);
            }
            envTicks += env.Ticks;
            rawTicks += replay.Ticks;
            same &= env.Steps == replay.Steps && env.Final.AsSpan().SequenceEqual(replay.Final);
            // Both phases stop together when the episode ends early (an unstable simulation).
            offset += env.Steps;
            environmentFirst = !environmentFirst;
        }
        return ((double)envTicks / Stopwatch.Frequency, (double)rawTicks / Stopwatch.Frequency, same);
    }

    /// <summary>One episode of the environment: ticks spent in <see cref="IEnvironment.Step"/> (the reset is not timed), steps taken, final qpos.</summary>
    private static (long Ticks, int Steps, double[] Final) EnvironmentEpisode(ManipulationEnvironment environment, ReadOnlySpan<float[]> actions, ulong seed, float[] observation)
    {
        environment.Reset(seed, observation);
        long ticks = 0;
        var t = 0;
        while (t < actions.Length)
        {
            var start = Stopwatch.GetTimestamp();
            var result = environment.Step(actions[t], observation);
            ticks += Stopwatch.GetTimestamp() - start;
            t++;
            if (result.Done)
            {
                break;
            }
        }
        return (ticks, t, environment.Data.Qpos.ToArray());
    }

    /// <summary>
    /// The same episode replayed on <paramref name="raw"/> from the environment's reset state: ticks spent in the
    /// FrameSkip <c>mj_step</c> calls of each control step, steps taken, final qpos.
    /// </summary>
    private static (long Ticks, int Steps, double[] Final) RawEpisode(ManipulationEnvironment environment, MjData raw, int target, ReadOnlySpan<float[]> actions, ulong seed, float[] observation)
    {
        StartEpisode(environment, raw, seed, observation);
        var (low, high) = (ManipulationEnvironment.WorkspaceLow, ManipulationEnvironment.WorkspaceHigh);
        var mocap = raw.MocapPos;
        var ctrl = raw.Ctrl;
        Span<double> clipped = stackalloc double[4];
        long ticks = 0;
        var t = 0;
        while (t < actions.Length)
        {
            // The environment's control law (ManipulationEnvironment.Step), repeated here so that only mj_step is timed.
            for (var i = 0; i < 4; i++)
            {
                clipped[i] = Math.Clamp(actions[t][i], -1f, 1f);
            }
            var (x0, y0, z0) = (mocap[target], mocap[target + 1], mocap[target + 2]);
            var x1 = Math.Clamp(x0 + (ManipulationEnvironment.ActionScale * clipped[0]), low.X, high.X);
            var y1 = Math.Clamp(y0 + (ManipulationEnvironment.ActionScale * clipped[1]), low.Y, high.Y);
            var z1 = Math.Clamp(z0 + (ManipulationEnvironment.ActionScale * clipped[2]), low.Z, high.Z);
            ctrl[0] = ctrl[1] = 0.5 * (clipped[3] + 1) * ManipulationScene.FingerTravel;
            var start = Stopwatch.GetTimestamp();
            for (var k = 1; k <= ManipulationEnvironment.FrameSkip; k++)
            {
                var f = (double)k / ManipulationEnvironment.FrameSkip;
                (mocap[target], mocap[target + 1], mocap[target + 2]) = (x0 + (f * (x1 - x0)), y0 + (f * (y1 - y0)), z0 + (f * (z1 - z0)));
                raw.Step();
            }
            ticks += Stopwatch.GetTimestamp() - start;
            t++;
            if (raw.IsUnstable)
            {
                break;
            }
        }
        return (ticks, t, raw.Qpos.ToArray());
    }

    /// <summary>The environment's reset state for <paramref name="seed"/>, copied into <paramref name="raw"/>.</summary>
    private static void StartEpisode(ManipulationEnvironment environment, MjData raw, ulong seed, float[] observation)
    {
        environment.Reset(seed, observation);
        // mj_resetData clears time, warm start and warnings; the reset then only writes positions, mocap and controls.
        raw.Reset();
        var data = environment.Data;
        data.Qpos.CopyTo(raw.Qpos);
        data.Qvel.CopyTo(raw.Qvel);
        data.Ctrl.CopyTo(raw.Ctrl);
        data.MocapPos.CopyTo(raw.MocapPos);
        data.MocapQuat.CopyTo(raw.MocapQuat);
        // As the environment's reset does: mj_forward leaves results that the first mj_step starts from (its solver's
        // warm start), and without it some replays drift from the environment in the last bits.
        raw.Forward();
    }

    private static void Write(List<TaskResult> results, int steps, int repeats, string outputDirectory)
    {
        var c = CultureInfo.InvariantCulture;
        var frameSkip = ManipulationEnvironment.FrameSkip;
        var table = new StringBuilder();
        table.AppendLine(c, $"Manipulation suite, one thread: {steps} control steps per phase (random actions in [−1, 1], seed {ActionSeed}; a new episode every {ManipulationEnvironment.EpisodeLength} steps), medians over {repeats} repeats alternating environment and raw physics; raw = {frameSkip} mj_step per control step on the same model, replaying the same path. Ratio = environment step time / {frameSkip} physics steps' time (median of the per-repeat ratios), target ≤ {Target:F2}.");
        table.AppendLine();
        table.AppendLine(c, $"| task | env control steps/s | raw physics steps/s | µs per env step | µs per {frameSkip} physics steps | ratio | ratio range | ≤ {Target:F2}× | same trajectory |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|:---:|:---:|");
        var csv = new StringBuilder();
        csv.AppendLine("task,env_steps_per_s,raw_physics_steps_per_s,env_us_per_step,raw_us_per_frameskip,ratio,ratio_min,ratio_max,meets_target,same_trajectory,unstable_episodes");
        foreach (var r in results)
        {
            var envMicroseconds = 1e6 / r.EnvStepsPerSecond;
            var rawMicroseconds = 1e6 * frameSkip / r.PhysicsStepsPerSecond;
            var meets = r.Ratio <= Target;
            table.AppendLine(c, $"| {r.Task} | {r.EnvStepsPerSecond:N0} | {r.PhysicsStepsPerSecond:N0} | {envMicroseconds:F1} | {rawMicroseconds:F1} | {r.Ratio:F3} | {r.RatioMin:F3}–{r.RatioMax:F3} | {(meets ? "✓" : "✗")} | {(r.SameTrajectory ? "yes" : "NO")} |");
            csv.AppendLine(c, $"{r.Task},{r.EnvStepsPerSecond:F1},{r.PhysicsStepsPerSecond:F1},{envMicroseconds:F2},{rawMicroseconds:F2},{r.Ratio:F4},{r.RatioMin:F4},{r.RatioMax:F4},{(meets ? "true" : "false")},{(r.SameTrajectory ? "true" : "false")},{r.Unstable}");
        }
        if (results.Any(r => !r.SameTrajectory))
        {
            table.AppendLine();
            table.AppendLine("Some raw replays ended in another state than the environment: the benchmark's copy of the control law (EnvironmentBenchmark.RawEpisode) no longer matches ManipulationEnvironment.Step, so their physics is not the same work.");
        }
        if (results.Any(r => r.Unstable > 0))
        {
            table.AppendLine();
            table.AppendLine(c, $"Unstable episodes (ended early by the environment): {string.Join(", ", results.Where(r => r.Unstable > 0).Select(r => $"{r.Task} {r.Unstable}"))}.");
        }
        Console.Write(table);
        Directory.CreateDirectory(outputDirectory);
        WriteAtomically(Path.Combine(outputDirectory, "env.md"), table.ToString());
        WriteAtomically(Path.Combine(outputDirectory, "env.csv"), csv.ToString());
    }

    /// <summary>Writes through a temporary file and a rename, so that a reader never sees a half-written result.</summary>
    private static void WriteAtomically(string path, string text)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        File.Move(temporary, path, overwrite: true);
    }
}
