using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace GradientSurgery.Data;

/// <summary>
/// Downloads the four original <c>.gz</c> files of MNIST or Fashion-MNIST from their public mirrors (the ones
/// torchvision uses; see <see cref="SourceDatasets.Mirrors"/>) and verifies their published MD5 sums.
/// </summary>
/// <remarks>
/// Each file is streamed into a temporary file next to its destination, its MD5 sum is checked, and only then is
/// it renamed into place, so an interrupted or corrupted download never leaves a plausible-looking file behind.
/// Files already present with the right MD5 sum are not downloaded again; a present file with another sum is
/// replaced. A mirror that fails (no connection, HTTP error, wrong MD5) is skipped for the next one.
/// </remarks>
public static class DatasetDownloader
{
    /// <summary>How long a transfer may receive nothing before the mirror is abandoned.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    private const int ProgressStep = 1 << 20;

    /// <summary>Downloads the dataset's four files into <c><paramref name="dataDirectory"/>/<paramref name="name"/>/</c>, the layout <see cref="MultiMnistDataset.Load"/> expects.</summary>
    /// <param name="name"><c>mnist</c> or <c>fashion-mnist</c> (case-insensitive).</param>
    /// <param name="dataDirectory">The data directory; the files go into its <paramref name="name"/> subfolder, created if missing.</param>
    /// <param name="handler">HTTP handler to send requests through (tests pass a fake one); <see langword="null"/> for a default network handler.</param>
    /// <param name="progress">Receives progress reports, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the download; the partial file is removed.</param>
    /// <returns>The four files, in the order of <see cref="SourceDatasets.FileNames"/>.</returns>
    /// <exception cref="ArgumentException">Unknown dataset name or empty directory.</exception>
    /// <exception cref="DatasetDownloadException">A file could not be obtained from any mirror; the message names the URLs and says where to put the file by hand.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static Task<IReadOnlyList<DownloadedFile>> DownloadAsync(
        string name,
        string dataDirectory,
        HttpMessageHandler? handler = null,
        IProgress<DownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var dataset = SourceDatasets.Check(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        return DownloadFromAsync(
            dataset, dataDirectory, SourceDatasets.Mirrors(dataset), file => SourceDatasets.ExpectedMd5(dataset, file),
            IdleTimeout, handler, progress, cancellationToken);
    }

    /// <summary>The download with its sources injected, so tests can serve synthetic files with known sums.</summary>
    internal static Task<IReadOnlyList<DownloadedFile>> DownloadFromAsync(
        string dataset,
        string dataDirectory,
        IReadOnlyList<string> mirrors,
        Func<string, string> expectedMd5,
        TimeSpan idleTimeout,
        HttpMessageHandler? handler,
        IProgress<DownloadProgress>? progress,
        CancellationToken cancellationToken) =>
        DownloadFromAsync(dataset, dataDirectory, mirrors, SourceDatasets.FileNames, expectedMd5, idleTimeout, handler, progress, cancellationToken);

    /// <summary>
    /// Downloads <paramref name="fileNames"/> (each from the first mirror that serves it with the right MD5) into
    /// <c><paramref name="dataDirectory"/>/<paramref name="dataset"/>/</c>; shared by MNIST-like sets and the
    /// single-archive sets such as CIFAR-100.
    /// </summary>
    internal static async Task<IReadOnlyList<DownloadedFile>> DownloadFromAsync(
        string dataset,
        string dataDirectory,
        IReadOnlyList<string> mirrors,
        IReadOnlyList<string> fileNames,
        Func<string, string> expectedMd5,
        TimeSpan idleTimeout,
        HttpMessageHandler? handler,
        IProgress<DownloadProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        var source = new Source(dataset, mirrors, fileNames, expectedMd5, idleTimeout);
        var directory = Path.Combine(dataDirectory, dataset);
        Directory.CreateDirectory(directory);

        using var client = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        // The default whole-request time-out would cut off a slow but healthy transfer of a 26 MB file; stalls are
        // caught by IdleTimeout instead.
        client.Timeout = Timeout.InfiniteTimeSpan;
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("GradientSurgery", "1.0"));

        var results = new List<DownloadedFile>();
        foreach (var fileName in fileNames)
        {
            results.Add(await FetchAsync(client, source, directory, fileName, progress, cancellationToken).ConfigureAwait(false));
        }
        return results;
    }

    private static async Task<DownloadedFile> FetchAsync(
        HttpClient client, Source source, string directory, string fileName, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var dataset = source.Dataset;
        var destination = Path.Combine(directory, fileName);
        var expected = source.ExpectedMd5(fileName);
        if (File.Exists(destination))
        {
            var present = await Md5OfFileAsync(destination, cancellationToken).ConfigureAwait(false);
            if (present == expected)
            {
                progress?.Report(new DownloadProgress(dataset, fileName, DownloadStage.AlreadyPresent, null, 0, null));
                return new DownloadedFile(fileName, destination, null, present);
            }
        }

        var urls = source.Mirrors.Select(mirror => mirror + fileName).ToArray();
        var failures = new List<string>();
        var allNetworkFailures = true;
        Exception? last = null;
        foreach (var url in urls)
        {
            var temporary = Path.Combine(directory, $".{fileName}.{Guid.NewGuid():N}.part");
            try
            {
                var md5 = await DownloadToAsync(client, source, fileName, url, temporary, progress, cancellationToken).ConfigureAwait(false);
                if (md5 != expected)
                {
                    throw new MirrorException($"the file received has MD5 {md5}, not the published {expected}", network: false);
                }
                File.Move(temporary, destination, overwrite: true);
                progress?.Report(new DownloadProgress(dataset, fileName, DownloadStage.Completed, url, new FileInfo(destination).Length, null));
                return new DownloadedFile(fileName, destination, url, md5);
            }
            catch (Exception error) when (Classify(error, source.IdleTimeout, cancellationToken) is { } failure)
            {
                last = error;
                allNetworkFailures &= failure.Network;
                failures.Add($"{url}: {failure.Message}");
                progress?.Report(new DownloadProgress(dataset, fileName, DownloadStage.MirrorFailed, url, 0, null, failure.Message));
            }
            finally
            {
                TryDelete(temporary);
            }
        }

        var byHand = source.FileNames.Count == 1
            ? $"To install it by hand, download {string.Join(" or ", urls)} on a connected machine (MD5 {expected}) and put it in '{directory}'."
            : $"To install it by hand, download {string.Join(" or ", urls)} on a connected machine (MD5 {expected}) and put it, "
                + $"with the other {dataset} files ({string.Join(", ", source.FileNames)}), in '{directory}'.";
        var message = allNetworkFailures
            ? $"Could not download {fileName}: no server could be reached ({string.Join("; ", failures)}). This machine seems to be offline or to have no route to these hosts. {byHand}"
            : $"Could not download {fileName} from any mirror: {string.Join("; ", failures)}. {byHand}";
        throw new DatasetDownloadException(message, fileName, urls, allNetworkFailures, last);
    }

    private static async Task<string> DownloadToAsync(
        HttpClient client, Source source, string fileName, string url, string temporary, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var dataset = source.Dataset;
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(source.IdleTimeout);
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, idle.Token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new MirrorException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}", network: false);
        }
        var total = response.Content.Headers.ContentLength;
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        await using (var body = await response.Content.ReadAsStreamAsync(idle.Token).ConfigureAwait(false))
        await using (var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16, useAsync: true))
        {
            var buffer = new byte[1 << 16];
            long received = 0;
            long reported = -ProgressStep;
            progress?.Report(new DownloadProgress(dataset, fileName, DownloadStage.Downloading, url, 0, total));
            int read;
            while ((read = await body.ReadAsync(buffer, idle.Token).ConfigureAwait(false)) > 0)
            {
                idle.CancelAfter(source.IdleTimeout);
                md5.AppendData(buffer, 0, read);
                await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                received += read;
                if (received - reported >= ProgressStep)
                {
                    reported = received;
                    progress?.Report(new DownloadProgress(dataset, fileName, DownloadStage.Downloading, url, received, total));
                }
            }
            progress?.Report(new DownloadProgress(dataset, fileName, DownloadStage.Downloading, url, received, total));
            if (total is { } announced && announced != received)
            {
                throw new MirrorException($"the server announced {announced} bytes but the transfer ended after {received}", network: true);
            }
            await target.FlushAsync(cancellationToken).ConfigureAwait(false);
            // Durable before the rename, so a crash cannot leave a verified-looking name over unwritten data.
            target.Flush(flushToDisk: true);
        }
        return Convert.ToHexStringLower(md5.GetHashAndReset());
    }

    /// <summary>Decides whether an exception means "try the next mirror" and describes it; <see langword="null"/> lets it propagate.</summary>
    private static (string Message, bool Network)? Classify(Exception error, TimeSpan idleTimeout, CancellationToken cancellationToken) => error switch
    {
        MirrorException mirror => (mirror.Message, mirror.Network),
        HttpRequestException http => (http.Message, http.StatusCode is null),
        // Our own idle time-out, as opposed to the caller cancelling.
        OperationCanceledException when !cancellationToken.IsCancellationRequested => (string.Create(CultureInfo.InvariantCulture, $"no data received for {idleTimeout.TotalSeconds:0.###} s"), true),
        HttpIOException io => (io.Message, true),
        _ => null,
    };

    private static async Task<string> Md5OfFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, useAsync: true);
        var hash = await MD5.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            // Best effort: a stray hidden .part file is harmless and the real outcome is already decided.
        }
    }

    private sealed record Source(string Dataset, IReadOnlyList<string> Mirrors, IReadOnlyList<string> FileNames, Func<string, string> ExpectedMd5, TimeSpan IdleTimeout);

    /// <summary>A mirror-specific failure: try the next mirror.</summary>
    private sealed class MirrorException(string message, bool network) : Exception(message)
    {
        public bool Network { get; } = network;
    }
}
