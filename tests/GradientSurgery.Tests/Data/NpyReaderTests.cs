using GradientSurgery.Data;
using static GradientSurgery.Tests.Data.NpyTestFiles;

namespace GradientSurgery.Tests.Data;

public sealed class NpyReaderTests
{
    private const string Name = "x/0.npy";

    private static InvalidDataException Refused(byte[] bytes) => Assert.Throws<InvalidDataException>(() => NpyReader.Parse(Name, bytes));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Float32InCOrderRoundTripsInEveryFormatVersion(int major)
    {
        var values = new[] { 0f, 0.25f, -1.5f, 3e7f, float.Epsilon, 1f };
        var array = NpyReader.Parse(Name, Npy(Header("<f4", 2, 3), Floats(values), major));

        Assert.Equal(NpyElementType.Float32, array.ElementType);
        Assert.Equal([2, 3], array.Shape);
        Assert.Equal(6, array.Count);
        Assert.Equal(values, array.ToSingleArray());
    }

    [Fact]
    public void EverySupportedTypeConverts()
    {
        Assert.Equal([1.5f, -2f], NpyReader.Parse(Name, Npy(Header("<f8", 2), Doubles(1.5, -2))).ToSingleArray());
        Assert.Equal([-1, 12, 0], NpyReader.Parse(Name, Npy(Header("<i8", 3), Int64s(-1, 12, 0))).ToInt32Array());
        Assert.Equal([-1, 7], NpyReader.Parse(Name, Npy(Header("<i4", 2), Int32s(-1, 7))).ToInt32Array());
        var bytes = NpyReader.Parse(Name, Npy(Header("|u1", 2, 2), [0, 1, 254, 255]));
        Assert.Equal(NpyElementType.UInt8, bytes.ElementType);
        Assert.Equal([0f, 1f, 254f, 255f], bytes.ToSingleArray());
        // Label maps saved as floats convert when whole.
        Assert.Equal([-1, 0, 12], NpyReader.Parse(Name, Npy(Header("<f4", 3), Floats(-1, 0, 12))).ToInt32Array());
    }

    [Fact]
    public void AScalarAndAnEmptyArrayAreRead()
    {
        var scalar = NpyReader.Parse(Name, Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", Floats(2.5f)));
        Assert.Empty(scalar.Shape);
        Assert.Equal([2.5f], scalar.ToSingleArray());
        var empty = NpyReader.Parse(Name, Npy(Header("<f4", 0, 3), []));
        Assert.Equal([0, 3], empty.Shape);
        Assert.Equal(0, empty.Count);
    }

    [Fact]
    public void KeysInAnyOrderAndDoubleQuotesAreAccepted()
    {
        var array = NpyReader.Parse(Name, Npy("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<i4\"}", Int32s(4, 5)));
        Assert.Equal([4, 5], array.ToInt32Array());
    }

    [Fact]
    public void AFractionalValueIsNotAnInteger()
    {
        var array = NpyReader.Parse(Name, Npy(Header("<f4", 3), Floats(1, 2.5f, 3)));
        var error = Assert.Throws<InvalidDataException>(() => array.ToInt32Array());
        Assert.True(error.Message.Contains("element 1 (byte 4 of the data) is 2.5"), error.Message);
    }

    [Fact]
    public void FortranOrderIsRefused()
    {
        var error = Refused(Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", Floats(1, 2, 3, 4)));
        Assert.Contains(Name, error.Message);
        Assert.True(error.Message.Contains("'fortran_order': True in the header at byte offset 10"), error.Message);
    }

    [Theory]
    [InlineData(">f4", "big-endian")]
    [InlineData(">i8", "big-endian")]
    [InlineData("|O", "object array")]
    [InlineData("<c8", "not supported")]
    [InlineData("<U3", "not supported")]
    public void OtherElementTypesAreRefused(string descr, string reason)
    {
        var error = Refused(Npy(Header(descr, 1), new byte[8]));
        Assert.True(error.Message.Contains($"'descr': '{descr}' in the header at byte offset 10"), error.Message);
        Assert.True(error.Message.Contains(reason), error.Message);
    }

    [Fact]
    public void TruncatedAndOverlongDataAreRefusedWithOffsets()
    {
        var good = Npy(Header("<f4", 2, 3), Floats(1, 2, 3, 4, 5, 6));
        var truncated = Refused(good[..^5]);
        Assert.True(truncated.Message.Contains("truncated: shape (2, 3) of '<f4' needs 24 data bytes from byte offset 128 (to 152), but the file holds 19 (it ends at 147)"), truncated.Message);
        var overlong = Refused([.. good, 0]);
        Assert.True(overlong.Message.Contains("too long"), overlong.Message);
        Assert.True(overlong.Message.Contains("holds 25"), overlong.Message);
    }

    [Fact]
    public void TruncatedPrefixesAreRefused()
    {
        var good = Npy(Header("<f4", 1), Floats(1));
        Assert.True(Refused([]).Message.Contains("an empty file"), Refused([]).Message);
        Assert.True(Refused(good[..7]).Message.Contains("inside the version bytes"), Refused(good[..7]).Message);
        Assert.True(Refused(good[..9]).Message.Contains("inside the 2-byte header length"), Refused(good[..9]).Message);
        Assert.True(Refused(good[..40]).Message.Contains("promises a header up to byte offset 128, but the file ends at 40"), Refused(good[..40]).Message);
    }

    [Fact]
    public void AWrongMagicOrVersionIsRefused()
    {
        var good = Npy(Header("<f4", 1), Floats(1));
        var magic = (byte[])good.Clone();
        magic[1] = (byte)'X';
        Assert.True(Refused(magic).Message.Contains("expected the magic 934E554D5059"), Refused(magic).Message);
        var version = (byte[])good.Clone();
        version[6] = 4;
        Assert.True(Refused(version).Message.Contains("format version 4.0 at byte offset 6 is not supported"), Refused(version).Message);
    }

    [Theory]
    [InlineData("'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "expected '{'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False}", "lacks 'shape'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected key 'extra'")]
    [InlineData("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "key 'descr' appears twice")]
    [InlineData("{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", "expected True or False")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "expected a non-negative dimension")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", "expected '('")]
    [InlineData("{'descr': <f4, 'fortran_order': False, 'shape': (1,)}", "expected a quoted string")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", "unexpected text 'junk'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", "must be the tuple (1,)")]
    [InlineData("{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", "malformed header")]
    public void MalformedHeadersAreRefusedWithTheOffset(string header, string reason)
    {
        var error = Refused(Npy(header, Floats(1)));
        Assert.Contains(Name, error.Message);
        Assert.True(error.Message.Contains("byte offset"), error.Message);
        Assert.True(error.Message.Contains(reason), error.Message);
    }

    [Fact]
    public void ANonAsciiHeaderIsRefusedInVersion1()
    {
        var bytes = Npy(Header("<f4", 1), Floats(1));
        bytes[12] = 0xE9;
        Assert.True(Refused(bytes).Message.Contains("is not ASCII text"), Refused(bytes).Message);
    }

    [Fact]
    public void ReadNamesAMissingFile()
    {
        var missing = Path.Combine(Path.GetTempPath(), "gsurg-no-such-" + Guid.NewGuid().ToString("N") + ".npy");
        var error = Assert.Throws<FileNotFoundException>(() => NpyReader.Read(missing));
        Assert.True(error.Message.Contains(missing), error.Message);
    }
}
