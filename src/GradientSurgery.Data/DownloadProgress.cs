namespace GradientSurgery.Data;

/// <summary>What <see cref="DatasetDownloader"/> is doing with a file.</summary>
public enum DownloadStage
{
    /// <summary>The file was already present with the published MD5 sum and was left alone.</summary>
    AlreadyPresent,

    /// <summary>Bytes are arriving from <see cref="DownloadProgress.Url"/>.</summary>
    Downloading,

    /// <summary>A mirror failed (network error, HTTP error or wrong MD5); the next mirror, if any, is tried.</summary>
    MirrorFailed,

    /// <summary>The file was downloaded, its MD5 sum matched, and it is in place.</summary>
    Completed,
}

/// <summary>A progress report of <see cref="DatasetDownloader.DownloadAsync"/>.</summary>
/// <param name="Dataset"><c>mnist</c> or <c>fashion-mnist</c>.</param>
/// <param name="FileName">The file concerned, e.g. <c>train-images-idx3-ubyte.gz</c>.</param>
/// <param name="Stage">What is happening.</param>
/// <param name="Url">The URL being fetched, or <see langword="null"/> for <see cref="DownloadStage.AlreadyPresent"/>.</param>
/// <param name="BytesReceived">Bytes received so far from <paramref name="Url"/>.</param>
/// <param name="TotalBytes">The length announced by the server, when it announced one.</param>
/// <param name="Message">For <see cref="DownloadStage.MirrorFailed"/>, what went wrong; otherwise <see langword="null"/>.</param>
public sealed record DownloadProgress(
    string Dataset, string FileName, DownloadStage Stage, string? Url, long BytesReceived, long? TotalBytes, string? Message = null);

/// <summary>One file handled by <see cref="DatasetDownloader.DownloadAsync"/>.</summary>
/// <param name="FileName">The file name, e.g. <c>t10k-labels-idx1-ubyte.gz</c>.</param>
/// <param name="Path">Where the verified file now is.</param>
/// <param name="Url">The URL it was downloaded from, or <see langword="null"/> if it was already present.</param>
/// <param name="Md5">Its MD5 sum (lower-case hex), equal to the published one.</param>
public sealed record DownloadedFile(string FileName, string Path, string? Url, string Md5)
{
    /// <summary>Whether the file was already present with the right MD5 sum and was not downloaded.</summary>
    public bool AlreadyPresent => Url is null;
}
