using System.Buffers.Binary;
using System.IO.Compression;
using GradientSurgery.Data;

namespace GradientSurgery.Tests.Data;

/// <summary>Writes tiny, possibly malformed, gzip'd IDX files so that no test depends on the real datasets.</summary>
internal static class IdxTestFiles
{
    public static byte[] ImagesIdx(int count, int rows, int columns, byte[] pixels, uint magic = IdxReader.ImagesMagic)
    {
        var bytes = new byte[16 + pixels.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), (uint)count);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), (uint)rows);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), (uint)columns);
        pixels.CopyTo(bytes, 16);
        return bytes;
    }

    public static byte[] LabelsIdx(byte[] labels, uint magic = IdxReader.LabelsMagic, int? count = null)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), (uint)(count ?? labels.Length));
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    public static byte[] Gzip(byte[] raw)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(raw);
        }
        return memory.ToArray();
    }

    public static string WriteGz(string path, byte[] raw)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Gzip(raw));
        return path;
    }

    /// <summary>Random 28×28 images whose values depend on <paramref name="seed"/>, with a 255 in each so that the byte scaling is the identity.</summary>
    public static byte[] RandomImages(int count, int seed, int side = 28)
    {
        var random = new Random(seed);
        var pixels = new byte[count * side * side];
        random.NextBytes(pixels);
        for (var i = 0; i < count; i++)
        {
            pixels[i * side * side + random.Next(side * side)] = 255;
        }
        return pixels;
    }

    /// <summary>Writes the four files of a source dataset under <c>root/name/</c>.</summary>
    public static void WriteSource(string root, string name, int trainCount, int testCount, int seed)
    {
        foreach (var (split, count) in new[] { (DatasetSplit.Train, trainCount), (DatasetSplit.Test, testCount) })
        {
            var pixels = RandomImages(count, seed + (int)split);
            WriteGz(SourceDatasets.ImagesPath(root, name, split), ImagesIdx(count, 28, 28, pixels));
            var labels = Enumerable.Range(0, count).Select(i => (byte)((i * (seed % 7 + 3) + seed) % 10)).ToArray();
            WriteGz(SourceDatasets.LabelsPath(root, name, split), LabelsIdx(labels));
        }
    }
}

/// <summary>A fresh directory under the system temporary directory, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gsurg-data-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary directory must not fail a test.
        }
    }
}
