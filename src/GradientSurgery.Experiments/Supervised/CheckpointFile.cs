using System.Security.Cryptography;
using System.Text;

namespace GradientSurgery.Experiments.Supervised;

/// <summary>
/// A checkpoint on disk: named binary sections followed by a SHA-256 of everything before it. Written
/// atomically (temporary file in the same directory, flushed to disk, then renamed), and the checkpoint it
/// replaces is kept as <c>*.prev</c>, so that a crash or a corrupt write never loses the last good state.
/// </summary>
public static class CheckpointFile
{
    private static readonly byte[] Magic = "GSCKPT\0\u0001"u8.ToArray();
    private const int FormatVersion = 1;

    /// <summary>The file kept from the previous write of <paramref name="path"/>.</summary>
    public static string PreviousPath(string path) => path + ".prev";

    /// <summary>Writes the sections atomically; an existing checkpoint at <paramref name="path"/> becomes <see cref="PreviousPath"/>.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, byte[]> sections)
    {
        ArgumentNullException.ThrowIfNull(sections);
        Write(path, [.. sections.Select(s => new Section(s.Key, writer => writer.Write(s.Value)))]);
    }

    /// <summary>
    /// Writes the sections atomically, each streamed by its writer straight into the file, so that a large section
    /// (a replay buffer of hundreds of megabytes) is never held in memory twice; the same format as the other overload.
    /// </summary>
    public static void Write(string path, IReadOnlyList<Section> sections)
    {
        ArgumentNullException.ThrowIfNull(sections);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
            {
                using (var writer = new BinaryWriter(file, Encoding.UTF8, leaveOpen: true))
                {
                    writer.Write(Magic);
                    writer.Write(FormatVersion);
                    writer.Write(sections.Count);
                    foreach (var section in sections)
                    {
                        writer.Write(section.Name);
                        // The length precedes the bytes: written as a placeholder, then filled in once they are out.
                        writer.Flush();
                        var lengthAt = file.Position;
                        writer.Write(0L);
                        section.Write(writer);
                        writer.Flush();
                        var end = file.Position;
                        file.Position = lengthAt;
                        writer.Write(end - lengthAt - sizeof(long));
                        writer.Flush();
                        file.Position = end;
                    }
                }
                // The checksum of everything written, read back from the file (the page cache) rather than kept in memory.
                var payloadLength = file.Position;
                file.Position = 0;
                var hash = SHA256.HashData(file);
                file.Position = payloadLength;
                file.Write(hash);
                file.Flush(flushToDisk: true);
            }
            if (File.Exists(path))
            {
                File.Move(path, PreviousPath(path), overwrite: true);
            }
            File.Move(temporary, path);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    /// <summary>A named section of a checkpoint and the code that writes its bytes.</summary>
    /// <param name="Name">The section's name.</param>
    /// <param name="Write">Writes the section's bytes (and must not close the writer).</param>
    public sealed record Section(string Name, Action<BinaryWriter> Write);

    /// <summary>Whether there is a checkpoint at <paramref name="path"/> or one kept from before it.</summary>
    public static bool Exists(string path) => File.Exists(path) || File.Exists(PreviousPath(path));

    /// <summary>
    /// Reads the checkpoint at <paramref name="path"/>, or the previous one when it is missing or damaged (a crash
    /// while writing then loses nothing); <paramref name="fallingBack"/> is told why before the previous one is read.
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither exists, or only the latest is missing and no previous one is kept.</exception>
    /// <exception cref="InvalidDataException">The latest is damaged and no previous one is kept, or both are damaged (the previous one's error).</exception>
    public static IReadOnlyDictionary<string, byte[]> ReadLatest(string path, Action<Exception>? fallingBack = null)
    {
        try
        {
            return Read(path);
        }
        catch (Exception latest) when ((latest is InvalidDataException or FileNotFoundException) && File.Exists(PreviousPath(path)))
        {
            fallingBack?.Invoke(latest);
            return Read(PreviousPath(path));
        }
    }

    /// <summary>Reads and verifies a checkpoint.</summary>
    /// <exception cref="InvalidDataException">The file is truncated, not a checkpoint, of another format version, or fails its checksum; the message names the file.</exception>
    public static IReadOnlyDictionary<string, byte[]> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < Magic.Length + 4 + 32 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{path} is not a GradientSurgery checkpoint (bad header, {bytes.Length} bytes).");
        }
        var payload = bytes.AsSpan(0, bytes.Length - 32);
        if (!SHA256.HashData(payload).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32)))
        {
            throw new InvalidDataException($"{path} is corrupt: its SHA-256 checksum does not match its contents (truncated or modified file).");
        }
        using var reader = new BinaryReader(new MemoryStream(bytes, 0, payload.Length), Encoding.UTF8);
        reader.ReadBytes(Magic.Length);
        var version = reader.ReadInt32();
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"{path} has checkpoint format version {version}; this build reads version {FormatVersion}.");
        }
        var count = reader.ReadInt32();
        var sections = new Dictionary<string, byte[]>(count);
        for (var k = 0; k < count; k++)
        {
            var name = reader.ReadString();
            var length = reader.ReadInt64();
            sections[name] = reader.ReadBytes(checked((int)length));
        }
        return sections;
    }
}
