namespace GradientSurgery.Data;

/// <summary>
/// The CRC-32 of gzip (ISO 3309 / ITU-T V.42, reflected polynomial 0xEDB88320), needed to check a gzip trailer.
/// </summary>
/// <remarks>
/// Hand-written because the BCL exposes no CRC-32 (System.IO.Hashing is a separate package) and
/// <see cref="System.IO.Compression.GZipStream"/> silently accepts a file whose trailer was cut off, which is
/// exactly how an interrupted copy or download looks.
/// </remarks>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    /// <summary>Continues a CRC over more bytes; start from 0 and pass each result back in.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var c = ~crc;
        foreach (var b in data)
        {
            c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        }
        return ~c;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            table[n] = c;
        }
        return table;
    }
}
