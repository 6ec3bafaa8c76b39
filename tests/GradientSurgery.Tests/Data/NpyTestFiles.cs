using System.Buffers.Binary;
using System.Text;

namespace GradientSurgery.Tests.Data;

/// <summary>Writes small <c>.npy</c> files the way NumPy does (header padded to a multiple of 64 bytes, ending in a newline).</summary>
internal static class NpyTestFiles
{
    public static string Header(string descr, params int[] shape) =>
        $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({string.Join(", ", shape)}{(shape.Length == 1 ? "," : string.Empty)}), }}";

    public static byte[] Npy(string header, byte[] data, int major = 1)
    {
        var prefix = major == 1 ? 10 : 12;
        var text = Encoding.ASCII.GetBytes(header);
        var padded = (prefix + text.Length + 1 + 63) / 64 * 64 - prefix;
        var bytes = new byte[prefix + padded + data.Length];
        new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' }.CopyTo(bytes, 0);
        bytes[6] = (byte)major;
        bytes[7] = 0;
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)padded);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)padded);
        }
        text.CopyTo(bytes, prefix);
        bytes.AsSpan(prefix + text.Length, padded - text.Length - 1).Fill((byte)' ');
        bytes[prefix + padded - 1] = (byte)'\n';
        data.CopyTo(bytes, prefix + padded);
        return bytes;
    }

    public static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }
        return bytes;
    }

    public static byte[] Doubles(params double[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
        }
        return bytes;
    }

    public static byte[] Int64s(params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        }
        return bytes;
    }

    public static byte[] Int32s(params int[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), values[i]);
        }
        return bytes;
    }

    public static string WriteFloats(string path, float[] values, params int[] shape)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Npy(Header("<f4", shape), Floats(values)));
        return path;
    }
}
