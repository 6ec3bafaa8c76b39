namespace GradientSurgery;

/// <summary>
/// The parts of the <see cref="IStateful"/> format that methods share: a tag string naming the method and the
/// version of its format comes first; a method that draws random numbers writes the 64-bit state of its
/// <see cref="SplitMix64"/> next, then whatever else it keeps.
/// </summary>
internal static class StateFormat
{
    /// <summary>Reads the tag string and refuses another method's (or version's) state.</summary>
    /// <param name="reader">The state.</param>
    /// <param name="expected">The tag this method writes.</param>
    /// <param name="method">The method's name, for the message.</param>
    /// <exception cref="InvalidDataException">The tag is not <paramref name="expected"/>.</exception>
    public static void ReadTag(BinaryReader reader, string expected, string method)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var tag = reader.ReadString();
        if (tag != expected)
        {
            throw new InvalidDataException($"Expected {method} state ({expected}), found '{tag}'.");
        }
    }

    /// <summary>The generator of a seeded method: seeded with <paramref name="seed"/>, or with a fresh random seed when it is null.</summary>
    public static SplitMix64 SeededGenerator(long? seed) => new(unchecked((ulong)(seed ?? Random.Shared.NextInt64())));

    /// <summary>Writes <paramref name="tag"/> and the state of <paramref name="generator"/>.</summary>
    public static void WriteSeeded(BinaryWriter writer, string tag, SplitMix64 generator)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(tag);
        writer.Write(generator.State);
    }

    /// <summary>
    /// Reads what <see cref="WriteSeeded"/> wrote and returns the generator state, without applying it, so that a
    /// method with more state can refuse a corrupt remainder before changing anything.
    /// </summary>
    /// <exception cref="InvalidDataException">The tag is not <paramref name="tag"/>.</exception>
    public static ulong ReadSeeded(BinaryReader reader, string tag, string method)
    {
        ReadTag(reader, tag, method);
        return reader.ReadUInt64();
    }
}
