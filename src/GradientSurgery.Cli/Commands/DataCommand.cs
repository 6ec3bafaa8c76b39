using System.CommandLine;
using GradientSurgery.Data;
using Spectre.Console;

namespace GradientSurgery.Cli.Commands;

/// <summary><c>gsurg data download mnist|fashion-mnist|cifar100|celeba|nyuv2 --to DIR</c>.</summary>
internal static class DataCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var name = new Argument<string>("dataset") { Description = $"Which data set: {string.Join(", ", DatasetCatalog.Names)}." };
        name.AcceptOnlyFromAmong([.. DatasetCatalog.Names]);
        var target = new Option<string>("--to") { Description = "Data directory; the files go into DIR/<dataset>/.", DefaultValueFactory = _ => "data" };
        var download = new Command(
            "download",
            "Download a data set from its official location, verifying the published MD5 sums (files already present and correct are kept); "
            + "cifar100 is also extracted. celeba and nyuv2 cannot be fetched by a program: for them the command prints what to place where and exits with code 2.")
        {
            name, target,
        };
        download.SetAction(async (parse, cancellation) =>
        {
            var directory = Path.GetFullPath(parse.GetValue(target)!);
            var dataset = DatasetCatalog.Check(parse.GetValue(name)!);
            if (!DatasetCatalog.CanDownload(dataset))
            {
                // Straight to the writer: the console would wrap long paths at its width, which breaks copying them.
                foreach (var line in DatasetCatalog.ManualInstructions(dataset, directory))
                {
                    console.Profile.Out.Writer.WriteLine(line);
                }
                // Exit code 2 with one line on standard error: a script must not take the data as present.
                throw new IOException(DatasetCatalog.ManualSummary(dataset, directory) + ".");
            }
            var progress = new Progress<DownloadProgress>(p =>
            {
                if (p.Stage is DownloadStage.AlreadyPresent or DownloadStage.Completed or DownloadStage.MirrorFailed)
                {
                    console.MarkupLineInterpolated($"{p.FileName}: {p.Stage}{(p.Message is null ? "" : " — " + p.Message)}");
                }
            });
            try
            {
                if (dataset == Cifar100Mtl.DatasetName)
                {
                    var folder = await Cifar100Downloader.DownloadAsync(directory, progress: progress, cancellationToken: cancellation);
                    console.MarkupLineInterpolated($"[green]OK[/]: {Cifar100Downloader.ArchiveName} MD5 verified and extracted to {folder}.");
                    return GsurgApp.Success;
                }
                var files = await DatasetDownloader.DownloadAsync(dataset, directory, progress: progress, cancellationToken: cancellation);
                console.MarkupLineInterpolated($"[green]OK[/]: {files.Count} files in {Path.Combine(directory, dataset)}, MD5 verified.");
                return GsurgApp.Success;
            }
            catch (DatasetDownloadException failed)
            {
                throw new IOException(failed.Message, failed);
            }
        });
        return new Command("data", "Manage the data sets.") { download };
    }
}
