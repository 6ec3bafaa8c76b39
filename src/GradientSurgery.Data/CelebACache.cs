using System.Buffers.Binary;
using System.Security.Cryptography;

namespace GradientSurgery.Data;

/// <summary>
/// The on-disk cache of one decoded CelebA split. Layout (little-endian):
/// <code>
/// "GSCELEBA" magic (8) | format version int32 | split int32 | side int32
/// | SHA-256 of list_attr_celeba.txt (32) | SHA-256 of list_eval_partition.txt (32)
/// | count N int32 | images N·3·S·S | SHA-256 (32) of every preceding byte
/// </code>
/// Written to a temporary file beside the target, flushed, then renamed over it; read back only when the header
/// matches the request, the length matches the header and the checksum matches the content. Only the images are
/// cached: labels are re-read from the annotation files, whose hashes bind the cache to them. The image files
/// themselves are not fingerprinted (hashing 200,000 files costs about as much as decoding them): after replacing
/// images, delete the cache.
/// </summary>
internal static class CelebACache
{
    public const int FormatVersion = 1;
    private const int ChecksumBytes = 32;
    private static readonly byte[] Magic = "GSCELEBA"u8.ToArray();

    public sealed record Key(CelebASplit Split, int Side, byte[] AttributesSha256, byte[] PartitionSha256, int Count);

    private static byte[] Header(Key key)
    {
        var header = new byte[8 + 4 + 4 + 4 + 32 + 32 + 4];
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), (int)key.Split);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(16), key.Side);
        key.AttributesSha256.CopyTo(header, 20);
        key.PartitionSha256.CopyTo(header, 52);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(84), key.Count);
        return header;
    }

    public static void Write(string path, Key key, byte[] images) => ChecksummedFile.Write(path, "CelebA cache file", put =>
    {
        put(Header(key));
        put(images);
    });

    /// <exception cref="InvalidDataException">The file does not serve <paramref name="key"/> or is corrupt; the message says why.</exception>
    public static byte[] Read(string path, Key key)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var expectedHeader = Header(key);
        var imageBytes = (long)key.Count * 3 * key.Side * key.Side;
        var expectedLength = expectedHeader.Length + imageBytes + ChecksumBytes;
        if (file.Length != expectedLength)
        {
            throw Invalid(path, $"length {file.Length} bytes, expected {expectedLength} for {key.Count} images of {key.Side}×{key.Side}");
        }
        var header = new byte[expectedHeader.Length];
        file.ReadExactly(header);
        if (!header.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw Invalid(path, $"not a CelebA cache file: magic {Convert.ToHexString(header.AsSpan(0, 8))} at byte offset 0");
        }
        var mismatch = Enumerable.Range(0, header.Length).FirstOrDefault(i => header[i] != expectedHeader[i], -1);
        if (mismatch >= 0)
        {
            var field = mismatch switch
            {
                < 12 => "format version",
                < 16 => "split",
                < 20 => "image side",
                < 52 => "attribute file hash (list_attr_celeba.txt changed)",
                < 84 => "partition file hash (list_eval_partition.txt changed)",
                _ => "image count",
            };
            throw Invalid(path, $"built for other data: the {field} at byte offset {mismatch} differs from the request");
        }
        var images = new byte[imageBytes];
        file.ReadExactly(images);
        var stored = new byte[ChecksumBytes];
        file.ReadExactly(stored);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(header);
        hash.AppendData(images);
        if (!hash.GetHashAndReset().AsSpan().SequenceEqual(stored))
        {
            throw Invalid(path, $"checksum mismatch at byte offset {expectedLength - ChecksumBytes}; the file is corrupt");
        }
        return images;
    }

    private static InvalidDataException Invalid(string path, string problem) => new($"CelebA cache '{path}': {problem}.");
}
