using GradientSurgery.Cli;

return GsurgApp.Run(args, Spectre.Console.AnsiConsole.Console, Console.Error);
