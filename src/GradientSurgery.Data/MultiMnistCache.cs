using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace GradientSurgery.Data;

/// <summary>What a cache file must have been built from to serve a request.</summary>
internal sealed record MultiMnistCacheKey(MultiMnistVariant Variant, DatasetSplit Split, long Seed, IReadOnlyList<SourceFileFingerprint> Sources);

/// <summary>
/// The on-disk cache of a composed split. Layout (little-endian):
/// <code>
/// "GSMULTI\0" magic (8) | format version int32 | variant int32 | split int32 | seed int64
/// | source count int32 | per source: name length int32, UTF-8 name, file length int64, SHA-256 (32)
/// | count N int32 | image side int32 (28)
/// | images N·784 | left labels N | right labels N | right indices N·int32
/// | SHA-256 (32) of every preceding byte
/// </code>
/// Written to a temporary file in the same directory, flushed to disk, then moved over the target, so a reader
/// never sees a half-written cache; read back only after every field, the source fingerprints and the checksum
/// agree with the request.
/// </summary>
internal static class MultiMnistCache
{
    /// <summary>Bumped whenever the layout or the composition changes, so old caches are rebuilt rather than misread.</summary>
    public const int FormatVersion = 1;

    private const int MaxSources = 16;
    private const int MaxNameBytes = 1024;
    private const int ChecksumBytes = 32;
    private static readonly byte[] Magic = "GSMULTI\0"u8.ToArray();

    public static void Write(string path, MultiMnistCacheKey key, MultiMnistComposition data) => ChecksummedFile.Write(path, "MultiMNIST cache file", Put =>
    {
        var scratch = new byte[8];
        void PutInt32(int value)
        {
            BinaryPrimitives.WriteInt32LittleEndian(scratch, value);
            Put(scratch.AsSpan(0, 4));
        }
        void PutInt64(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(scratch, value);
            Put(scratch.AsSpan(0, 8));
        }

        Put(Magic);
        PutInt32(FormatVersion);
        PutInt32((int)key.Variant);
        PutInt32((int)key.Split);
        PutInt64(key.Seed);
        PutInt32(key.Sources.Count);
        foreach (var source in key.Sources)
        {
            var name = Encoding.UTF8.GetBytes(source.Name);
            PutInt32(name.Length);
            Put(name);
            PutInt64(source.Length);
            Put(source.Sha256);
        }
        PutInt32(data.Count);
        PutInt32(MultiMnistComposer.OutputSide);
        Put(data.Images);
        Put(data.LeftLabels);
        Put(data.RightLabels);
        var indices = new byte[checked(data.Count * sizeof(int))];
        for (var i = 0; i < data.Count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(indices.AsSpan(i * sizeof(int)), data.RightIndices[i]);
        }
        Put(indices);
    });

    /// <summary>Reads a cache file built for exactly <paramref name="key"/>.</summary>
    /// <exception cref="InvalidDataException">The file is corrupt, of another format version, or was built for other parameters or other source files; the message says which.</exception>
    public static MultiMnistComposition Read(string path, MultiMnistCacheKey key)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var fileLength = file.Length;
        var scratch = new byte[8];

        void Take(Span<byte> destination)
        {
            var offset = file.Position;
            var read = file.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
            if (read < destination.Length)
            {
                throw Invalid(path, $"truncated at byte offset {offset + read} (file length {fileLength})");
            }
            hash.AppendData(destination);
        }
        int TakeInt32()
        {
            Take(scratch.AsSpan(0, 4));
            return BinaryPrimitives.ReadInt32LittleEndian(scratch);
        }
        long TakeInt64()
        {
            Take(scratch.AsSpan(0, 8));
            return BinaryPrimitives.ReadInt64LittleEndian(scratch);
        }

        var magic = new byte[Magic.Length];
        Take(magic);
        if (!magic.AsSpan().SequenceEqual(Magic))
        {
            throw Invalid(path, $"not a MultiMNIST cache file: magic {Convert.ToHexString(magic)} at byte offset 0, expected {Convert.ToHexString(Magic)}");
        }
        var version = TakeInt32();
        if (version != FormatVersion)
        {
            throw Invalid(path, $"format version {version}, this build reads version {FormatVersion}");
        }
        var variant = TakeInt32();
        var split = TakeInt32();
        var seed = TakeInt64();
        if (variant != (int)key.Variant || split != (int)key.Split || seed != key.Seed)
        {
            throw Invalid(path, $"built for {Describe(variant, split, seed)}, but {Describe((int)key.Variant, (int)key.Split, key.Seed)} was requested");
        }

        var sourceCount = TakeInt32();
        if (sourceCount is < 0 or > MaxSources)
        {
            throw Invalid(path, $"absurd source count {sourceCount} at byte offset {file.Position - 4}");
        }
        var recorded = new List<SourceFileFingerprint>(sourceCount);
        for (var s = 0; s < sourceCount; s++)
        {
            var nameLength = TakeInt32();
            if (nameLength is < 0 or > MaxNameBytes)
            {
                throw Invalid(path, $"absurd source name length {nameLength} at byte offset {file.Position - 4}");
            }
            var name = new byte[nameLength];
            Take(name);
            var length = TakeInt64();
            var sha = new byte[32];
            Take(sha);
            recorded.Add(new SourceFileFingerprint(Encoding.UTF8.GetString(name), length, sha));
        }
        if (recorded.Count != key.Sources.Count || !recorded.Zip(key.Sources).All(pair => pair.First.Matches(pair.Second)))
        {
            throw Invalid(path, $"the source files changed since it was built (recorded: {string.Join("; ", recorded)}; now: {string.Join("; ", key.Sources)})");
        }

        var count = TakeInt32();
        var side = TakeInt32();
        if (side != MultiMnistComposer.OutputSide)
        {
            throw Invalid(path, $"image side {side} at byte offset {file.Position - 4}, expected {MultiMnistComposer.OutputSide}");
        }
        const long BytesPerItem = MultiMnistComposer.OutputPixels + 1 + 1 + sizeof(int);
        if (count < 0 || count > Array.MaxLength / MultiMnistComposer.OutputPixels)
        {
            throw Invalid(path, $"absurd image count {count} at byte offset {file.Position - 8}");
        }
        var expectedLength = file.Position + count * BytesPerItem + ChecksumBytes;
        if (fileLength != expectedLength)
        {
            throw Invalid(path, $"file length {fileLength} bytes, but its header promises {count} images, hence {expectedLength} bytes");
        }

        var images = new byte[count * MultiMnistComposer.OutputPixels];
        Take(images);
        var leftLabels = new byte[count];
        Take(leftLabels);
        var rightLabels = new byte[count];
        Take(rightLabels);
        var indexBytes = new byte[count * sizeof(int)];
        Take(indexBytes);
        var computed = hash.GetHashAndReset();
        var stored = new byte[ChecksumBytes];
        var checksumOffset = file.Position;
        if (file.ReadAtLeast(stored, ChecksumBytes, throwOnEndOfStream: false) != ChecksumBytes)
        {
            throw Invalid(path, $"truncated inside the checksum at byte offset {checksumOffset}");
        }
        if (!computed.AsSpan().SequenceEqual(stored))
        {
            throw Invalid(path, $"checksum mismatch: SHA-256 of bytes 0..{checksumOffset - 1} is {Convert.ToHexStringLower(computed)}, the file records {Convert.ToHexStringLower(stored)} at byte offset {checksumOffset}; the file is corrupt");
        }

        var rightIndices = new int[count];
        for (var i = 0; i < count; i++)
        {
            rightIndices[i] = BinaryPrimitives.ReadInt32LittleEndian(indexBytes.AsSpan(i * sizeof(int)));
        }
        // The checksum proves the bytes are the ones written, but not that the writer was sane; labels are
        // cheap to re-check and a bad one would silently corrupt training.
        for (var i = 0; i < count; i++)
        {
            if (leftLabels[i] >= IdxReader.ClassCount || rightLabels[i] >= IdxReader.ClassCount || rightIndices[i] < 0)
            {
                throw Invalid(path, $"item {i} has labels ({leftLabels[i]}, {rightLabels[i]}) and right index {rightIndices[i]}, outside the valid ranges");
            }
        }
        return new MultiMnistComposition(images, leftLabels, rightLabels, rightIndices);
    }

    private static string Describe(int variant, int split, long seed) =>
        $"{(Enum.IsDefined((MultiMnistVariant)variant) ? ((MultiMnistVariant)variant).CliName() : $"unknown variant {variant}")}"
        + $" / {(Enum.IsDefined((DatasetSplit)split) ? ((DatasetSplit)split).ToString().ToLowerInvariant() : $"unknown split {split}")} / seed {seed}";

    private static InvalidDataException Invalid(string path, string problem) => new($"MultiMNIST cache '{path}': {problem}.");
}
