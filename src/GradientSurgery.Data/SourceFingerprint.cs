using System.Security.Cryptography;

namespace GradientSurgery.Data;

/// <summary>Identity of one source file as recorded in a cache: its name relative to the data directory, length and SHA-256.</summary>
internal sealed record SourceFileFingerprint(string Name, long Length, byte[] Sha256)
{
    public bool Matches(SourceFileFingerprint other) =>
        string.Equals(Name, other.Name, StringComparison.Ordinal) && Length == other.Length && Sha256.AsSpan().SequenceEqual(other.Sha256);

    public override string ToString() => $"{Name} ({Length} bytes, SHA-256 {Convert.ToHexStringLower(Sha256)})";

    /// <summary>Fingerprints a file. The full SHA-256 (not a timestamp) because copies and re-downloads change
    /// timestamps without changing content, while a replaced file of equal length must still be noticed.</summary>
    public static SourceFileFingerprint Of(string dataDirectory, string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var hash = SHA256.HashData(stream);
        var name = Path.GetRelativePath(dataDirectory, path).Replace(Path.DirectorySeparatorChar, '/');
        return new SourceFileFingerprint(name, stream.Length, hash);
    }
}
