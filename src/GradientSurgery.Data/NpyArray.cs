using System.Buffers.Binary;

namespace GradientSurgery.Data;

/// <summary>An array read by <see cref="NpyReader"/>: its shape, element type and little-endian C-order bytes.</summary>
public sealed class NpyArray
{
    internal NpyArray(string sourcePath, NpyElementType elementType, int[] shape, byte[] data)
    {
        SourcePath = sourcePath;
        ElementType = elementType;
        ShapeArray = shape;
        Data = data;
    }

    /// <summary>The file it was read from (named in conversion errors).</summary>
    public string SourcePath { get; }

    /// <summary>The element type.</summary>
    public NpyElementType ElementType { get; }

    /// <summary>The dimensions, outermost first (C order); empty for a scalar.</summary>
    public IReadOnlyList<int> Shape => ShapeArray;

    /// <summary>Number of elements: the product of <see cref="Shape"/> (1 for a scalar).</summary>
    public int Count => Data.Length / NpyReader.ElementSize(ElementType);

    /// <summary>The raw element bytes, little-endian, C order.</summary>
    public byte[] Data { get; }

    internal int[] ShapeArray { get; }

    /// <summary>The elements as 32-bit floats (64-bit values are rounded, integers converted).</summary>
    /// <returns>A new array of <see cref="Count"/> elements in C order.</returns>
    public float[] ToSingleArray()
    {
        var result = new float[Count];
        var data = Data.AsSpan();
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = ElementType switch
            {
                NpyElementType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(data[(i * 4)..]),
                NpyElementType.Float64 => (float)BinaryPrimitives.ReadDoubleLittleEndian(data[(i * 8)..]),
                NpyElementType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(data[(i * 4)..]),
                NpyElementType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(data[(i * 8)..]),
                NpyElementType.UInt8 => data[i],
                _ => throw new InvalidOperationException($"Unknown element type {ElementType}."),
            };
        }
        return result;
    }

    /// <summary>
    /// The elements as 32-bit integers. Floating-point elements must hold whole numbers (label maps are often
    /// saved as floats); anything else — a fraction, NaN, a value outside the int range — is refused rather than
    /// rounded, because a silently rounded class id is a wrong label.
    /// </summary>
    /// <returns>A new array of <see cref="Count"/> elements in C order.</returns>
    /// <exception cref="InvalidDataException">An element is not a whole number in the int range; the message names the file, the element index and its byte offset in the data.</exception>
    public int[] ToInt32Array()
    {
        var result = new int[Count];
        var data = Data.AsSpan();
        var size = NpyReader.ElementSize(ElementType);
        for (var i = 0; i < result.Length; i++)
        {
            double value = ElementType switch
            {
                NpyElementType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(data[(i * 4)..]),
                NpyElementType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(data[(i * 8)..]),
                NpyElementType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(data[(i * 4)..]),
                NpyElementType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(data[(i * 8)..]),
                NpyElementType.UInt8 => data[i],
                _ => throw new InvalidOperationException($"Unknown element type {ElementType}."),
            };
            if (!(value == Math.Floor(value) && value is >= int.MinValue and <= int.MaxValue))
            {
                throw new InvalidDataException($"'{SourcePath}': element {i} (byte {i * (long)size} of the data) is {value}, not a whole number in the 32-bit integer range.");
            }
            result[i] = (int)value;
        }
        return result;
    }
}
