namespace GradientSurgery.Data;

/// <summary>A source dataset file could not be obtained from any of its mirrors.</summary>
public sealed class DatasetDownloadException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, where, and what the user can do.</param>
    /// <param name="fileName">The file that could not be obtained.</param>
    /// <param name="urls">Every URL tried.</param>
    /// <param name="seemsOffline">Whether every attempt failed below HTTP (no connection, no name resolution, time-out).</param>
    /// <param name="innerException">The last underlying failure, if any.</param>
    public DatasetDownloadException(string message, string fileName, IReadOnlyList<string> urls, bool seemsOffline, Exception? innerException = null)
        : base(message, innerException)
    {
        FileName = fileName;
        Urls = urls;
        SeemsOffline = seemsOffline;
    }

    /// <summary>The file that could not be obtained, e.g. <c>train-images-idx3-ubyte.gz</c>.</summary>
    public string FileName { get; }

    /// <summary>Every URL tried, in order.</summary>
    public IReadOnlyList<string> Urls { get; }

    /// <summary>Whether no server could be reached at all, which usually means the machine is offline.</summary>
    public bool SeemsOffline { get; }
}
