namespace GradientSurgery.Data;

/// <summary>
/// Downloads <c>cifar-100-binary.tar.gz</c> from its official location, checks the published MD5 sum and extracts it
/// into <c>DIR/cifar100/</c>, which gives the layout <see cref="Cifar100Mtl.Load"/> expects.
/// </summary>
public static class Cifar100Downloader
{
    /// <summary>The archive's name.</summary>
    public const string ArchiveName = "cifar-100-binary.tar.gz";

    /// <summary>The official base URL (Krizhevsky's page at the University of Toronto); the archive's URL is this followed by <see cref="ArchiveName"/>.</summary>
    public const string BaseUrl = "https://www.cs.toronto.edu/~kriz/";

    /// <summary>The page describing the data set and its formats.</summary>
    public const string OfficialPage = "https://www.cs.toronto.edu/~kriz/cifar.html";

    /// <summary>The MD5 sum of the archive published on <see cref="OfficialPage"/>.</summary>
    public const string ArchiveMd5 = "03b5dce01913d631647c71ecec9e9cb8";

    /// <summary>Downloads (unless already present with the right MD5) and extracts the archive.</summary>
    /// <param name="dataDirectory">The data directory; the archive and the extracted folder go into its <c>cifar100/</c> subfolder.</param>
    /// <param name="handler">HTTP handler (tests pass a fake one), or <see langword="null"/> for the network.</param>
    /// <param name="progress">Receives progress reports, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the download.</param>
    /// <returns>The folder holding the extracted files, <c>DIR/cifar100/cifar-100-binary</c>.</returns>
    /// <exception cref="DatasetDownloadException">The archive could not be obtained; the message says where to put it by hand.</exception>
    /// <exception cref="InvalidDataException">The archive is corrupt or lacks a file the loader needs.</exception>
    public static Task<string> DownloadAsync(
        string dataDirectory, HttpMessageHandler? handler = null, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default) =>
        DownloadFromAsync(dataDirectory, [BaseUrl], ArchiveMd5, DatasetDownloader.IdleTimeout, handler, progress, cancellationToken);

    /// <summary>The download with its source injected, so tests can serve a small generated archive.</summary>
    internal static async Task<string> DownloadFromAsync(
        string dataDirectory, IReadOnlyList<string> mirrors, string md5, TimeSpan idleTimeout,
        HttpMessageHandler? handler, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        IReadOnlyList<DownloadedFile> files;
        try
        {
            files = await DatasetDownloader.DownloadFromAsync(
                Cifar100Mtl.DatasetName, dataDirectory, mirrors, [ArchiveName], _ => md5, idleTimeout, handler, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (DatasetDownloadException failed)
        {
            // The by-hand route needs one more step than for the MNIST files, which the loader reads as downloaded.
            throw new DatasetDownloadException(
                $"{failed.Message} Then extract it there (tar xzf {ArchiveName}), which creates {Cifar100Mtl.Folder(dataDirectory)}.",
                failed.FileName, failed.Urls, failed.SeemsOffline, failed);
        }
        return ExtractArchive(files[0].Path, dataDirectory);
    }

    /// <summary>Extracts a downloaded (or hand-placed) archive into <c>DIR/cifar100/</c> and checks that the loader's files are there.</summary>
    /// <param name="archivePath">The <c>cifar-100-binary.tar.gz</c> file.</param>
    /// <param name="dataDirectory">The data directory.</param>
    /// <returns>The folder holding the extracted files.</returns>
    /// <exception cref="InvalidDataException">The archive is corrupt or does not hold <c>cifar-100-binary/</c> with the four expected files.</exception>
    public static string ExtractArchive(string archivePath, string dataDirectory)
    {
        TarGzExtractor.Extract(archivePath, Path.Combine(dataDirectory, Cifar100Mtl.DatasetName));
        var folder = Cifar100Mtl.Folder(dataDirectory);
        var missing = Cifar100Mtl.FileNames.Where(name => !File.Exists(Path.Combine(folder, name))).ToArray();
        if (missing.Length > 0)
        {
            throw new InvalidDataException($"'{archivePath}': after extraction, {string.Join(", ", missing.Select(name => Path.Combine(folder, name)))} {(missing.Length == 1 ? "is" : "are")} missing; this is not the CIFAR-100 binary archive.");
        }
        return folder;
    }
}
