using System.Runtime.InteropServices;
using GradientSurgery.Cli;

// Long runs need the collector's larger gen0 budget, which only an environment variable sets (Gen0Budget).
if (Gen0Budget.ShouldRestart)
{
    return Gen0Budget.RunWithBudget(args);
}

// SIGTERM (kill, a batch scheduler's preemption) stops a command as Ctrl+C does: training stops after the current step
// and writes a checkpoint. Without this the runtime ends the process at once and the epoch's steps are lost.
using var terminate = new CancellationTokenSource();
using var registration = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    terminate.Cancel();
});
return GsurgApp.Run(args, Spectre.Console.AnsiConsole.Console, Console.Error, terminate.Token);
