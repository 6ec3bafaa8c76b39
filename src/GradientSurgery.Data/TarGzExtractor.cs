using System.Formats.Tar;
using System.IO.Compression;

namespace GradientSurgery.Data;

/// <summary>Extracts a gzip-compressed tar archive (such as <c>cifar-100-binary.tar.gz</c>) with System.Formats.Tar.</summary>
/// <remarks>
/// Only directories and regular files are extracted. Links, devices and other entry types are refused, and so is
/// any entry whose path is absolute or leads outside the destination, because an archive from the network must not
/// be able to write elsewhere. Each file is written to a temporary name and renamed into place, so an interrupted
/// extraction never leaves a plausible-looking, half-written file.
/// </remarks>
public static class TarGzExtractor
{
    /// <summary>Extracts <paramref name="archivePath"/> into <paramref name="destination"/>, overwriting files of the same name.</summary>
    /// <param name="archivePath">The <c>.tar.gz</c> file.</param>
    /// <param name="destination">The folder to extract into (created if missing).</param>
    /// <returns>The paths of the extracted files, in archive order.</returns>
    /// <exception cref="FileNotFoundException">The archive does not exist.</exception>
    /// <exception cref="InvalidDataException">The archive is corrupt, or holds an entry that is refused; the message names the archive and the entry.</exception>
    public static IReadOnlyList<string> Extract(string archivePath, string destination)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(archivePath);
        ArgumentException.ThrowIfNullOrWhiteSpace(destination);
        var root = Path.GetFullPath(destination);
        var rootWithSeparator = Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar;
        Directory.CreateDirectory(root);
        var extracted = new List<string>();
        // The archive's own refusals pass through; anything else the reader throws means a corrupt archive.
        InvalidDataException? refusal = null;
        InvalidDataException Refuse(string problem) => refusal = new InvalidDataException($"'{archivePath}': {problem}");
        using var file = new FileStream(archivePath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        try
        {
            using var reader = new TarReader(gzip);
            while (reader.GetNextEntry() is { } entry)
            {
                var name = entry.Name;
                if (string.IsNullOrEmpty(name) || Path.IsPathRooted(name) || name.Split('/', '\\').Contains(".."))
                {
                    throw Refuse($"entry '{name}' has an absolute or parent-relative path; refusing to extract it.");
                }
                var target = Path.GetFullPath(Path.Combine(root, name));
                if (!target.StartsWith(rootWithSeparator, StringComparison.Ordinal) && target != root)
                {
                    throw Refuse($"entry '{name}' would be written outside '{root}'; refusing to extract it.");
                }
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        Directory.CreateDirectory(target);
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                        var temporary = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.part");
                        try
                        {
                            using (var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
                            {
                                entry.DataStream?.CopyTo(output);
                                output.Flush(flushToDisk: true);
                            }
                            File.Move(temporary, target, overwrite: true);
                        }
                        finally
                        {
                            File.Delete(temporary);
                        }
                        extracted.Add(target);
                        break;
                    case TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes:
                        // Metadata only (pax headers), which the reader has already applied to the next entry.
                        break;
                    default:
                        throw Refuse($"entry '{name}' is a {entry.EntryType}; only directories and regular files are extracted.");
                }
            }
        }
        catch (Exception error) when (error is FormatException or EndOfStreamException or InvalidDataException && !ReferenceEquals(error, refusal))
        {
            throw new InvalidDataException($"'{archivePath}': the archive is corrupt or truncated ({error.Message}).", error);
        }
        return extracted;
    }
}
