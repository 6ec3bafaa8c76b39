using System.CommandLine;
using GradientSurgery.Data;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary><c>gsurg data download mnist|fashion-mnist --to DIR</c>.</summary>
internal static class DataCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var name = new Argument<string>("dataset") { Description = $"Which data set: {string.Join(", ", SourceDatasets.Names)}." };
        name.AcceptOnlyFromAmong([.. SourceDatasets.Names]);
        var target = new Option<string>("--to") { Description = "Data directory; the files go into DIR/<dataset>/.", DefaultValueFactory = _ => "data" };
        var download = new Command("download", "Download the four original .gz files of a data set from its canonical public location, verifying their MD5 sums (files already present and correct are kept).")
        {
            name, target,
        };
        download.SetAction(async (parse, cancellation) =>
        {
            var directory = Path.GetFullPath(parse.GetValue(target)!);
            var progress = new Progress<DownloadProgress>(p =>
            {
                if (p.Stage is DownloadStage.AlreadyPresent or DownloadStage.Completed or DownloadStage.MirrorFailed)
                {
                    console.MarkupLineInterpolated($"{p.FileName}: {p.Stage}{(p.Message is null ? "" : " — " + p.Message)}");
                }
            });
            try
            {
                var files = await DatasetDownloader.DownloadAsync(parse.GetValue(name)!, directory, progress: progress, cancellationToken: cancellation);
                console.MarkupLineInterpolated($"[green]OK[/]: {files.Count} files in {Path.Combine(directory, parse.GetValue(name)!)}, MD5 verified.");
                return GsurgApp.Success;
            }
            catch (DatasetDownloadException failed)
            {
                throw new IOException(failed.Message, failed);
            }
        });
        return new Command("data", "Manage the source data sets.") { download };
    }
}
