using System.Security.Cryptography;

namespace GradientSurgery.Data;

/// <summary>
/// Writes a cache file atomically and self-checking: its content, then the SHA-256 of that content, into a temporary
/// file beside it that is flushed to disk and then renamed over the target. A reader that finds the file finds it
/// complete, and a corrupt one fails its checksum.
/// </summary>
internal static class ChecksummedFile
{
    /// <summary>Takes the next bytes of the content.</summary>
    public delegate void Sink(ReadOnlySpan<byte> bytes);

    /// <summary>Writes what <paramref name="content"/> puts, followed by its SHA-256, to <paramref name="path"/>.</summary>
    /// <exception cref="IOException">The file could not be written; the message names it (the temporary file is removed).</exception>
    public static void Write(string path, string what, Action<Sink> content)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(directory);
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                content(bytes =>
                {
                    hash.AppendData(bytes);
                    file.Write(bytes);
                });
                file.Write(hash.GetHashAndReset());
                // Durable before the rename makes it visible, or a crash could leave a complete-looking name over
                // incomplete content.
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw new IOException($"Could not write the {what} '{path}': {error.Message}", error);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            // Best effort: the original failure is the one worth reporting.
        }
    }
}
