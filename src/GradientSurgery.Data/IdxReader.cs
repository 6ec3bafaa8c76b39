using System.Buffers.Binary;
using System.IO.Compression;

namespace GradientSurgery.Data;

/// <summary>
/// Reads the gzip-compressed IDX files that MNIST and Fashion-MNIST are distributed as (LeCun et al.): a
/// big-endian header (magic 2051, count, rows, columns for images; magic 2049, count for labels) followed by
/// one unsigned byte per pixel or label.
/// </summary>
/// <remarks>
/// Every defect — a file that is not gzip, a corrupt or truncated gzip stream, a wrong magic number, an absurd
/// header, a payload shorter or longer than the header promises, a label outside 0..9, image and label files that
/// disagree — raises an <see cref="InvalidDataException"/> whose message names the file and, where it helps, the
/// byte offset in the decompressed data. Nothing is ever padded, truncated or guessed. The gzip trailer (CRC-32 and
/// length) is checked here as well, because <see cref="GZipStream"/> quietly ends at a cut before the trailer.
/// </remarks>
public static class IdxReader
{
    /// <summary>Magic number of an IDX file of unsigned-byte, three-dimensional data (images): 0x00000803.</summary>
    public const int ImagesMagic = 2051;

    /// <summary>Magic number of an IDX file of unsigned-byte, one-dimensional data (labels): 0x00000801.</summary>
    public const int LabelsMagic = 2049;

    /// <summary>Labels are classes 0 to <see cref="ClassCount"/> − 1.</summary>
    public const int ClassCount = 10;

    /// <summary>Largest image side accepted; a larger header value means a corrupt header, not a real image.</summary>
    public const int MaxImageSide = 4096;

    private const int ImagesHeaderBytes = 16;
    private const int LabelsHeaderBytes = 8;

    // The payload buffer starts at this size and doubles up to what the header promises, so that a corrupt
    // header claiming gigabytes costs no more memory than the data actually present. 64 MiB holds every
    // MNIST and Fashion-MNIST file in one allocation.
    private const int InitialPayloadBuffer = 64 << 20;

    /// <summary>Reads an images file (<c>*-images-idx3-ubyte.gz</c>).</summary>
    /// <param name="path">Path of the gzip-compressed IDX file.</param>
    /// <returns>The images, row-major, image after image.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid gzip-compressed IDX image file; the message says why.</exception>
    public static IdxImages ReadImages(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var file = OpenGzipFile(path);
        using var stream = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
        Span<byte> header = stackalloc byte[ImagesHeaderBytes];
        ReadHeader(stream, path, header, ImagesMagic, "image");
        var count = HeaderField(path, header, 4, "image count");
        var rows = HeaderField(path, header, 8, "row count");
        var columns = HeaderField(path, header, 12, "column count");
        CheckSide(path, rows, "row count", 8);
        CheckSide(path, columns, "column count", 12);
        var expected = (long)count * rows * columns;
        if (expected > Array.MaxLength)
        {
            throw Invalid(path, $"the header promises {count} images of {rows}×{columns} = {expected} bytes, more than one array can hold ({Array.MaxLength}); the header is corrupt");
        }
        var pixels = ReadPayload(stream, path, ImagesHeaderBytes, (int)expected, $"{count} images of {rows}×{columns}");
        VerifyTrailer(path, file, header, pixels);
        return new IdxImages(count, rows, columns, pixels);
    }

    /// <summary>Reads a labels file (<c>*-labels-idx1-ubyte.gz</c>) and checks every label is a class in 0..9.</summary>
    /// <param name="path">Path of the gzip-compressed IDX file.</param>
    /// <returns>One label per item.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid gzip-compressed IDX label file; the message says why.</exception>
    public static byte[] ReadLabels(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var file = OpenGzipFile(path);
        using var stream = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
        Span<byte> header = stackalloc byte[LabelsHeaderBytes];
        ReadHeader(stream, path, header, LabelsMagic, "label");
        var count = HeaderField(path, header, 4, "label count");
        var labels = ReadPayload(stream, path, LabelsHeaderBytes, count, $"{count} labels");
        VerifyTrailer(path, file, header, labels);
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= ClassCount)
            {
                throw Invalid(path, $"label {labels[i]} of item {i} (decompressed byte offset {LabelsHeaderBytes + i}) is not a class in 0..{ClassCount - 1}");
            }
        }
        return labels;
    }

    /// <summary>Fills <paramref name="header"/> from the start of the decompressed stream and checks its magic number.</summary>
    private static void ReadHeader(Stream stream, string path, Span<byte> header, int magic, string kind)
    {
        var headerRead = ReadAtMost(stream, header, path, 0);
        CheckMagic(path, header[..headerRead], magic, $"an IDX {kind} file");
        if (headerRead < header.Length)
        {
            throw Invalid(path, $"the decompressed data is only {headerRead} bytes long, too short for the {header.Length}-byte IDX {kind} header");
        }
    }

    /// <summary>Reads an images file and its labels file, checking that they describe the same number of items.</summary>
    /// <param name="imagesPath">Path of the <c>*-images-idx3-ubyte.gz</c> file.</param>
    /// <param name="labelsPath">Path of the matching <c>*-labels-idx1-ubyte.gz</c> file.</param>
    /// <returns>The images with their labels.</returns>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is invalid, or the two counts differ (the message names both files).</exception>
    public static IdxLabeledImages ReadLabeledImages(string imagesPath, string labelsPath)
    {
        var images = ReadImages(imagesPath);
        var labels = ReadLabels(labelsPath);
        if (images.Count != labels.Length)
        {
            throw new InvalidDataException(
                $"'{imagesPath}' holds {images.Count} images but '{labelsPath}' holds {labels.Length} labels; image i must go with label i, so the files do not belong together.");
        }
        return new IdxLabeledImages(images, labels);
    }

    private static FileStream OpenGzipFile(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        try
        {
            // Checked here because the decompressor's own complaint about a missing signature does not say that
            // the usual cause is an already-decompressed IDX file.
            Span<byte> signature = stackalloc byte[2];
            var read = file.ReadAtLeast(signature, 2, throwOnEndOfStream: false);
            if (read < 2 || signature[0] != 0x1F || signature[1] != 0x8B)
            {
                var found = read == 0 ? "an empty file" : $"bytes {Convert.ToHexString(signature[..read])}";
                throw Invalid(path, $"not a gzip file: expected the gzip signature 1F8B at byte offset 0 of the file, found {found} (an uncompressed IDX file must be the original .gz download)");
            }
            file.Position = 0;
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Checks the gzip trailer (CRC-32 and length of the decompressed data, the file's last 8 bytes). The
    /// decompressor verifies a trailer that is present, but ends quietly when the file stops before it, so a
    /// file cut anywhere after the last payload byte would otherwise pass.
    /// </summary>
    private static void VerifyTrailer(string path, FileStream file, ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        const int MinimumGzipLength = 10 + 2 + 8; // header, the smallest deflate stream, trailer
        var length = file.Length;
        if (length < MinimumGzipLength)
        {
            throw Invalid(path, $"the gzip file is only {length} bytes long, shorter than any complete gzip stream; it is truncated");
        }
        Span<byte> trailer = stackalloc byte[8];
        RandomAccess.Read(file.SafeFileHandle, trailer, length - 8);
        var storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        var storedLength = BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]);
        var actualLength = (uint)(header.Length + (long)payload.Length); // ISIZE is the length modulo 2^32
        var actualCrc = Crc32.Append(Crc32.Append(0, header), payload);
        if (storedCrc != actualCrc || storedLength != actualLength)
        {
            throw Invalid(path, $"the gzip trailer at file offset {length - 8} records CRC-32 0x{storedCrc:X8} and length {storedLength}, but the decompressed data has CRC-32 0x{actualCrc:X8} and length {actualLength}: the file is truncated or corrupt (or holds several gzip members, which the published files do not)");
        }
    }

    /// <summary>Fills as much of <paramref name="buffer"/> as the stream holds, naming the file if the gzip data is corrupt.</summary>
    private static int ReadAtMost(Stream stream, Span<byte> buffer, string path, long offset)
    {
        var total = 0;
        try
        {
            while (total < buffer.Length)
            {
                var read = stream.Read(buffer[total..]);
                if (read == 0)
                {
                    break;
                }
                total += read;
            }
        }
        catch (InvalidDataException error)
        {
            throw Invalid(path, $"the gzip stream is corrupt or truncated (decompression failed after decompressed byte offset {offset + total}): {error.Message}", error);
        }
        return total;
    }

    private static byte[] ReadPayload(Stream stream, string path, int headerBytes, int expected, string promise)
    {
        var buffer = new byte[Math.Min(expected, InitialPayloadBuffer)];
        var filled = 0;
        while (filled < expected)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(expected, 2L * buffer.Length));
            }
            var read = ReadAtMost(stream, buffer.AsSpan(filled), path, headerBytes + (long)filled);
            if (read == 0)
            {
                break;
            }
            filled += read;
        }
        if (filled < expected)
        {
            throw Invalid(path, $"truncated: the header promises {promise} = {expected} payload bytes, but only {filled} follow the header (the data ends at decompressed byte offset {headerBytes + (long)filled}, expected {headerBytes + (long)expected})");
        }

        Span<byte> probe = stackalloc byte[4096];
        long extra = 0;
        int more;
        while ((more = ReadAtMost(stream, probe, path, headerBytes + expected + extra)) > 0)
        {
            extra += more;
        }
        if (extra > 0)
        {
            throw Invalid(path, $"{extra} unexpected bytes after the payload: the header promises {promise} = {expected} payload bytes, so the data should end at decompressed byte offset {headerBytes + (long)expected}");
        }
        return buffer;
    }

    private static void CheckMagic(string path, ReadOnlySpan<byte> header, int expected, string kind)
    {
        if (header.Length < 4)
        {
            throw Invalid(path, $"the decompressed data is only {header.Length} bytes long, too short for the 4-byte IDX magic number");
        }
        var found = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (found == (uint)expected)
        {
            return;
        }
        var hint = found switch
        {
            (uint)ImagesMagic => " (that is the magic number of an image file: were the images and labels files swapped?)",
            (uint)LabelsMagic => " (that is the magic number of a label file: were the images and labels files swapped?)",
            _ => string.Empty,
        };
        throw Invalid(path, $"wrong magic number at decompressed byte offset 0: expected 0x{expected:X8} ({expected}, {kind}), found 0x{found:X8} ({found}){hint}");
    }

    private static int HeaderField(string path, ReadOnlySpan<byte> header, int offset, string name)
    {
        var value = BinaryPrimitives.ReadUInt32BigEndian(header[offset..]);
        if (value > int.MaxValue)
        {
            throw Invalid(path, $"the {name} 0x{value:X8} ({value}) at decompressed byte offset {offset} is absurd; the header is corrupt");
        }
        return (int)value;
    }

    private static void CheckSide(string path, int value, string name, int offset)
    {
        if (value is <= 0 or > MaxImageSide)
        {
            throw Invalid(path, $"the {name} {value} at decompressed byte offset {offset} is not in 1..{MaxImageSide}; the header is corrupt");
        }
    }

    private static InvalidDataException Invalid(string path, string problem, Exception? inner = null) =>
        new($"'{path}': {problem}.", inner);
}
