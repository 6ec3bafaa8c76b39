using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace GradientSurgery.Data;

/// <summary>
/// A small, strict reader of NumPy's <c>.npy</c> format (format versions 1.0, 2.0 and 3.0) for little-endian
/// <c>'&lt;f4'</c>, <c>'&lt;f8'</c>, <c>'&lt;i4'</c>, <c>'&lt;i8'</c> and <c>'|u1'</c> arrays in C order.
/// </summary>
/// <remarks>
/// <para>The format: the magic <c>\x93NUMPY</c>, a major and a minor version byte, the header length (2 bytes
/// little-endian in version 1, 4 bytes in versions 2 and 3), then the header — a Python dict literal with exactly the
/// keys <c>'descr'</c>, <c>'fortran_order'</c> and <c>'shape'</c>, ASCII (UTF-8 in version 3), padded with spaces
/// and ended by a newline — then the raw elements.</para>
/// <para>Written by hand because the NuGet packages that read <c>.npy</c> are whole NumPy clones (NumSharp and the
/// like) that bring far more than a loader of plain arrays needs; this is some 200 lines.</para>
/// <para>Refused, with the file and byte offset: a wrong magic or version, a header that is not such a dict,
/// Fortran order, big-endian or object arrays and any other element type, a negative dimension, and data shorter
/// or longer than the shape promises. Nothing is guessed or padded.</para>
/// </remarks>
public static class NpyReader
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    // Larger headers are not written by NumPy for plain arrays; a bigger value means a corrupt length field.
    private const int MaxHeaderBytes = 1 << 20;

    /// <summary>Reads a <c>.npy</c> file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The array.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a supported <c>.npy</c> file; the message names it, the byte offset and what was expected.</exception>
    public static NpyArray Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var bytes = File.ReadAllBytes(path);
        return Parse(path, bytes);
    }

    /// <summary>Parses the bytes of a <c>.npy</c> file; <paramref name="path"/> only names it in errors.</summary>
    /// <param name="path">Name used in error messages.</param>
    /// <param name="bytes">The whole file.</param>
    /// <returns>The array.</returns>
    /// <exception cref="InvalidDataException">The bytes are not a supported <c>.npy</c> file.</exception>
    public static NpyArray Parse(string path, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Magic.Length || !bytes[..Magic.Length].SequenceEqual(Magic))
        {
            var found = Convert.ToHexString(bytes[..Math.Min(bytes.Length, Magic.Length)]);
            throw Invalid(path, $"not a .npy file: expected the magic 934E554D5059 (\"\\x93NUMPY\") at byte offset 0, found {(found.Length == 0 ? "an empty file" : found)}");
        }
        if (bytes.Length < 8)
        {
            throw Invalid(path, $"truncated: the file ends at byte offset {bytes.Length}, inside the version bytes at offsets 6 and 7");
        }
        int major = bytes[6], minor = bytes[7];
        if (major is not (1 or 2 or 3) || minor != 0)
        {
            throw Invalid(path, $"format version {major}.{minor} at byte offset 6 is not supported; expected 1.0, 2.0 or 3.0");
        }
        var lengthBytes = major == 1 ? 2 : 4;
        var headerStart = 8 + lengthBytes;
        if (bytes.Length < headerStart)
        {
            throw Invalid(path, $"truncated: the file ends at byte offset {bytes.Length}, inside the {lengthBytes}-byte header length at offset 8");
        }
        var headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]) : (long)BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (headerLength > MaxHeaderBytes)
        {
            throw Invalid(path, $"header length {headerLength} at byte offset 8 is absurd (more than {MaxHeaderBytes}); the file is corrupt");
        }
        var dataStart = headerStart + (int)headerLength;
        if (bytes.Length < dataStart)
        {
            throw Invalid(path, $"truncated: the header length at byte offset 8 promises a header up to byte offset {dataStart}, but the file ends at {bytes.Length}");
        }
        string header;
        try
        {
            header = (major == 3 ? new UTF8Encoding(false, true) : (Encoding)Encoding.ASCII.Clone()).GetString(bytes[headerStart..dataStart]);
            if (major != 3 && bytes[headerStart..dataStart].IndexOfAnyInRange((byte)0x80, (byte)0xFF) >= 0)
            {
                throw new DecoderFallbackException("non-ASCII byte");
            }
        }
        catch (DecoderFallbackException)
        {
            throw Invalid(path, $"the header at byte offset {headerStart} is not {(major == 3 ? "UTF-8" : "ASCII")} text");
        }

        var (descr, fortran, shape) = new HeaderParser(path, header, headerStart).Parse();
        if (fortran)
        {
            throw Invalid(path, $"'fortran_order': True in the header at byte offset {headerStart}: only C-order arrays are supported (save with np.ascontiguousarray)");
        }
        var type = ParseDescr(path, descr, headerStart);
        long count = 1;
        foreach (var dimension in shape)
        {
            count *= dimension;
            if (count * ElementSize(type) > Array.MaxLength)
            {
                throw Invalid(path, $"shape ({string.Join(", ", shape)}) in the header at byte offset {headerStart} is larger than one array can hold");
            }
        }
        var expected = count * ElementSize(type);
        var actual = bytes.Length - (long)dataStart;
        if (actual != expected)
        {
            var problem = actual < expected ? "truncated" : "too long";
            throw Invalid(path, $"{problem}: shape ({string.Join(", ", shape)}) of '{descr}' needs {expected} data bytes from byte offset {dataStart} (to {dataStart + expected}), but the file holds {actual} (it ends at {bytes.Length})");
        }
        return new NpyArray(path, type, shape, bytes[dataStart..].ToArray());
    }

    /// <summary>Bytes per element of a type.</summary>
    /// <param name="type">The element type.</param>
    /// <returns>1, 4 or 8.</returns>
    public static int ElementSize(NpyElementType type) => type switch
    {
        NpyElementType.Float32 or NpyElementType.Int32 => 4,
        NpyElementType.Float64 or NpyElementType.Int64 => 8,
        NpyElementType.UInt8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown element type."),
    };

    private static NpyElementType ParseDescr(string path, string descr, int headerStart) => descr switch
    {
        "<f4" => NpyElementType.Float32,
        "<f8" => NpyElementType.Float64,
        "<i4" => NpyElementType.Int32,
        "<i8" => NpyElementType.Int64,
        "|u1" or "<u1" => NpyElementType.UInt8,
        _ when descr.StartsWith('>') => throw Invalid(path, $"'descr': '{descr}' in the header at byte offset {headerStart} is big-endian; only little-endian data is supported (save with arr.astype(arr.dtype.newbyteorder('<')))"),
        _ when descr.Contains('O', StringComparison.Ordinal) => throw Invalid(path, $"'descr': '{descr}' in the header at byte offset {headerStart} is an object array (pickled Python objects), which is never read"),
        _ => throw Invalid(path, $"'descr': '{descr}' in the header at byte offset {headerStart} is not supported; expected one of '<f4', '<f8', '<i4', '<i8', '|u1'"),
    };

    internal static InvalidDataException Invalid(string path, string problem) => new($"'{path}': {problem}.");

    /// <summary>Parses the header dict: <c>{'descr': STR, 'fortran_order': BOOL, 'shape': (INT, ...), }</c>, keys in any order.</summary>
    private sealed class HeaderParser(string path, string text, int baseOffset)
    {
        private int _position;

        public (string Descr, bool Fortran, int[] Shape) Parse()
        {
            string? descr = null;
            bool? fortran = null;
            int[]? shape = null;
            SkipSpace();
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (Peek() == '}')
                {
                    _position++;
                    break;
                }
                var keyAt = _position;
                var key = ReadString();
                SkipSpace();
                Expect(':');
                SkipSpace();
                switch (key)
                {
                    case "descr" when descr is null:
                        descr = ReadString();
                        break;
                    case "fortran_order" when fortran is null:
                        fortran = ReadBool();
                        break;
                    case "shape" when shape is null:
                        shape = ReadShape();
                        break;
                    case "descr" or "fortran_order" or "shape":
                        throw Fail(keyAt, $"key '{key}' appears twice");
                    default:
                        throw Fail(keyAt, $"unexpected key '{key}'; a .npy header has exactly 'descr', 'fortran_order' and 'shape'");
                }
                SkipSpace();
                if (Peek() == ',')
                {
                    _position++;
                    continue;
                }
                SkipSpace();
                Expect('}');
                break;
            }
            SkipSpace();
            if (_position != text.Length)
            {
                throw Fail(_position, $"unexpected text '{Excerpt()}' after the header dict");
            }
            if (descr is null || fortran is null || shape is null)
            {
                var missing = new[] { descr is null ? "'descr'" : null, fortran is null ? "'fortran_order'" : null, shape is null ? "'shape'" : null }.Where(k => k is not null);
                throw Fail(_position, $"the header dict lacks {string.Join(" and ", missing)}");
            }
            return (descr, fortran.Value, shape);
        }

        private char Peek() => _position < text.Length ? text[_position] : '\0';

        private void SkipSpace()
        {
            while (_position < text.Length && text[_position] is ' ' or '\t' or '\n' or '\r')
            {
                _position++;
            }
        }

        private void Expect(char expected)
        {
            if (Peek() != expected)
            {
                throw Fail(_position, $"expected '{expected}', found {(_position < text.Length ? $"'{Excerpt()}'" : "the end of the header")}");
            }
            _position++;
        }

        private string ReadString()
        {
            var quote = Peek();
            if (quote is not ('\'' or '"'))
            {
                throw Fail(_position, $"expected a quoted string, found {(_position < text.Length ? $"'{Excerpt()}'" : "the end of the header")}");
            }
            var start = ++_position;
            while (_position < text.Length && text[_position] != quote)
            {
                if (text[_position] == '\\')
                {
                    throw Fail(_position, "escape sequences are not expected in a .npy header string");
                }
                _position++;
            }
            if (_position >= text.Length)
            {
                throw Fail(start - 1, "unterminated string");
            }
            return text[start.._position++];
        }

        private bool ReadBool()
        {
            foreach (var (word, value) in new[] { ("True", true), ("False", false) })
            {
                if (string.CompareOrdinal(text, _position, word, 0, word.Length) == 0)
                {
                    _position += word.Length;
                    return value;
                }
            }
            throw Fail(_position, $"expected True or False, found '{Excerpt()}'");
        }

        private int[] ReadShape()
        {
            var open = _position;
            Expect('(');
            var dimensions = new List<int>();
            var trailingComma = false;
            while (true)
            {
                SkipSpace();
                if (Peek() == ')')
                {
                    _position++;
                    break;
                }
                trailingComma = false;
                var start = _position;
                while (_position < text.Length && char.IsAsciiDigit(text[_position]))
                {
                    _position++;
                }
                // NumPy writes plain decimal integers; a sign, a 'L' suffix or anything else is not one.
                if (_position == start || !int.TryParse(text.AsSpan(start, _position - start), NumberStyles.None, CultureInfo.InvariantCulture, out var dimension))
                {
                    throw Fail(start, $"expected a non-negative dimension in 'shape', found '{Excerpt(start)}'");
                }
                dimensions.Add(dimension);
                SkipSpace();
                if (Peek() == ',')
                {
                    _position++;
                    trailingComma = true;
                    continue;
                }
                Expect(')');
                break;
            }
            // In Python "(5)" is the integer 5, not a tuple; NumPy always writes "(5,)".
            if (dimensions.Count == 1 && !trailingComma)
            {
                throw Fail(open, $"a one-dimensional 'shape' must be the tuple ({dimensions[0]},), found ({dimensions[0]})");
            }
            return [.. dimensions];
        }

        private string Excerpt(int? at = null)
        {
            var start = at ?? _position;
            return start >= text.Length ? string.Empty : text.Substring(start, Math.Min(20, text.Length - start)).TrimEnd().ReplaceLineEndings("\\n");
        }

        private InvalidDataException Fail(int at, string problem) =>
            Invalid(path, $"malformed header at byte offset {baseOffset + Encoding.UTF8.GetByteCount(text.AsSpan(0, Math.Min(at, text.Length)))}: {problem}");
    }
}
