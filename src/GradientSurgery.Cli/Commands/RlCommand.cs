using System.CommandLine;
using System.Globalization;
using System.Text;
using GradientSurgery.Cli.Plotting;
using GradientSurgery.Environments;
using GradientSurgery.Environments.MuJoCo;
using GradientSurgery.Experiments;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary><c>gsurg rl …</c>: multi-task reinforcement learning. <c>rl scripted</c> runs each task's hand-written controller.</summary>
internal static class RlCommand
{
    public static Command Create(IAnsiConsole console) => new("rl", "Multi-task reinforcement learning on the environment suites (pointmass, mt10).")
    {
        Scripted(console),
        RlTrainCommand.Train(console),
        RlTrainCommand.Evaluate(console),
    };

    private static Command Scripted(IAnsiConsole console)
    {
        var suite = RlTrainCommand.Suite();
        var episodes = CommonOptions.PositiveInt("--episodes", "Episodes per task (default 20).");
        var seed = CommonOptions.Seed();
        var output = CommonOptions.Out("runs/scripted-<timestamp>");
        var command = new Command("scripted",
            "Run every task's scripted policy (a hand-written controller reading the observation) to show that each task can be solved: " +
            "writes scripted.csv (task, success_rate, mean_return, steps_per_second) and one PNG per task of the hand's and object's paths in a few episodes (top and side views).")
        {
            suite, episodes, seed, output,
        };
        command.SetAction(parse =>
        {
            Suite chosen;
            try
            {
                chosen = Suite.Find(parse.GetValue(suite)!);
            }
            catch (Exception unusable) when (unusable is ArgumentException or MuJoCoUnavailableException)
            {
                throw new UsageException(unusable.Message, unusable);
            }
            var count = parse.GetValue(episodes) ?? 20;
            var directory = CommonOptions.OutputDirectory(parse.GetValue(output), "scripted");
            IReadOnlyList<ScriptedEvaluation.TaskResult> results = [];
            console.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(context =>
                {
                    var bars = chosen.TaskNames.Select(t => context.AddTask(Markup.Escape(t), maxValue: count)).ToArray();
                    results = ScriptedEvaluation.Run(chosen, count, unchecked((ulong)parse.GetValue(seed)), progress: (task, done) => bars[task].Value = done);
                });
            Write(console, chosen, results, directory);
            return GsurgApp.Success;
        });
        return command;
    }

    private static void Write(IAnsiConsole console, Suite suite, IReadOnlyList<ScriptedEvaluation.TaskResult> results, string directory)
    {
        var table = new Table().AddColumns("task", "success %", "mean return", "steps / s");
        var csv = new StringBuilder("task,success_rate,mean_return,steps_per_second\n");
        foreach (var result in results)
        {
            table.AddRow(Markup.Escape(result.Task), (100 * result.SuccessRate).ToString("F0", CultureInfo.InvariantCulture),
                result.MeanReturn.ToString("F2", CultureInfo.InvariantCulture), result.StepsPerSecond.ToString("N0", CultureInfo.InvariantCulture));
            csv.Append(CultureInfo.InvariantCulture, $"{result.Task},{result.SuccessRate:R},{result.MeanReturn:R},{result.StepsPerSecond:R}\n");
            if (result.Trajectories.Count > 0)
            {
                TrajectoryFigure.Save(Path.Combine(directory, $"trajectories-{result.Task}.png"), result);
            }
        }
        console.Write(table);
        AtomicFile.WriteAllText(Path.Combine(directory, "scripted.csv"), csv.ToString());
        var failing = results.Where(r => r.SuccessRate < 0.9).Select(r => r.Task).ToArray();
        if (failing.Length > 0)
        {
            console.MarkupLineInterpolated($"[yellow]Below 90 % success:[/] {string.Join(", ", failing)}.");
        }
        console.MarkupLineInterpolated($"[green]Wrote[/] {directory} (scripted.csv, trajectories-<task>.png) for suite {suite.Name}.");
    }
}
