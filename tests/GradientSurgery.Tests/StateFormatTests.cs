namespace GradientSurgery.Tests;

public sealed class StateFormatTests
{
    [Fact]
    public void SeededStateIsTheTagThenTheGeneratorState()
    {
        var generator = StateFormat.SeededGenerator(7);
        generator.NextUInt64();
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            StateFormat.WriteSeeded(writer, "Method/1", generator);
        }
        stream.Position = 0;
        using (var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            Assert.Equal("Method/1", reader.ReadString());
            Assert.Equal(generator.State, reader.ReadUInt64());
        }
        stream.Position = 0;
        using (var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            Assert.Equal(generator.State, StateFormat.ReadSeeded(reader, "Method/1", "Method"));
        }
        Assert.Equal(new SplitMix64(7).State, StateFormat.SeededGenerator(7).State);
    }

    [Fact]
    public void AnotherMethodsStateIsRefusedByName()
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write("Other/2");
            writer.Write(5UL);
        }
        stream.Position = 0;
        var message = Assert.Throws<InvalidDataException>(() => StateFormat.ReadSeeded(new BinaryReader(stream), "Method/1", "Method")).Message;
        Assert.Equal("Expected Method state (Method/1), found 'Other/2'.", message);
        Assert.Throws<ArgumentNullException>(() => StateFormat.ReadTag(null!, "Method/1", "Method"));
        Assert.Throws<ArgumentNullException>(() => StateFormat.WriteSeeded(null!, "Method/1", new SplitMix64(0)));
    }
}
