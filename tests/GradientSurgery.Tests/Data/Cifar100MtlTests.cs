using GradientSurgery.Data;

namespace GradientSurgery.Tests.Data;

/// <summary>CIFAR-100 as 20 tasks, on small generated files in the binary format (1 + 1 + 3072 bytes a record).</summary>
public sealed class Cifar100MtlTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Records of (coarse, fine) with pixels that depend on the record index, so that order is checked too.</summary>
    private static byte[] Records(params (int Coarse, int Fine)[] labels)
    {
        var bytes = new byte[labels.Length * Cifar100Mtl.RecordBytes];
        var random = new Random(17);
        for (var i = 0; i < labels.Length; i++)
        {
            var record = bytes.AsSpan(i * Cifar100Mtl.RecordBytes, Cifar100Mtl.RecordBytes);
            record[0] = (byte)labels[i].Coarse;
            record[1] = (byte)labels[i].Fine;
            random.NextBytes(record[2..]);
        }
        return bytes;
    }

    private static (int, int) Valid(int fine) => (Cifar100Mtl.CoarseOfFine[fine], fine);

    private string WriteSplit(DatasetSplit split, byte[] bytes)
    {
        var path = Cifar100Mtl.RecordsPath(_temp.Path, split);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void TheOfficialMapHasFiveFineClassesPerCoarseClass()
    {
        Assert.Equal(100, Cifar100Mtl.CoarseOfFine.Count);
        for (var task = 0; task < Cifar100Mtl.TaskCount; task++)
        {
            var fines = Cifar100Mtl.FineClassesOfTask(task);
            Assert.Equal(5, fines.Count);
            Assert.Equal(fines.Order(), fines);
            Assert.Equal([0, 1, 2, 3, 4], fines.Select(Cifar100Mtl.TaskLabelOfFine));
        }
        // Spot checks against the class names (fine and coarse names are in alphabetical order in the meta files):
        // apple → fruit and vegetables, beaver → aquatic mammals, worm → non-insect invertebrates, tractor → vehicles 2.
        Assert.Equal(4, Cifar100Mtl.CoarseOfFine[0]);
        Assert.Equal(0, Cifar100Mtl.CoarseOfFine[4]);
        Assert.Equal(13, Cifar100Mtl.CoarseOfFine[99]);
        Assert.Equal(19, Cifar100Mtl.CoarseOfFine[89]);
        // Aquatic mammals: beaver 4, dolphin 30, otter 55, seal 72, whale 95.
        Assert.Equal([4, 30, 55, 72, 95], Cifar100Mtl.FineClassesOfTask(0));
    }

    [Fact]
    public void ACorrectFileRoundTripsExactly()
    {
        var bytes = Records(Valid(30), Valid(0), Valid(99), Valid(95), Valid(4));
        WriteSplit(DatasetSplit.Test, bytes);

        var data = Cifar100Mtl.Load(_temp.Path, DatasetSplit.Test);

        Assert.Equal(5, data.Count);
        Assert.Equal(new byte[] { 0, 4, 13, 0, 0 }, data.Tasks);
        // Fruit and vegetables are apple 0, mushroom 51, orange 53, pear 57, sweet pepper 83: apple is label 0.
        Assert.Equal([0, 51, 53, 57, 83], Cifar100Mtl.FineClassesOfTask(4));
        Assert.Equal(new byte[] { 1, 0, 4, 4, 0 }, data.Labels);
        Assert.Equal(new byte[] { 30, 0, 99, 95, 4 }, data.FineLabels);
        for (var i = 0; i < data.Count; i++)
        {
            Assert.Equal(bytes.AsSpan(i * Cifar100Mtl.RecordBytes + 2, Cifar100Mtl.PixelsPerImage).ToArray(), data.Image(i).ToArray());
        }
        // Worm (99) is the highest fine label of its coarse class, so label 4.
        Assert.Equal(99, Cifar100Mtl.FineClassesOfTask(13)[4]);
    }

    [Fact]
    public void ATruncatedFileNamesTheFileAndTheOffsetOfTheStrayBytes()
    {
        var bytes = Records(Valid(1), Valid(2), Valid(3));
        var path = WriteSplit(DatasetSplit.Train, bytes[..(2 * Cifar100Mtl.RecordBytes + 100)]);

        var error = Assert.Throws<InvalidDataException>(() => Cifar100Mtl.Load(_temp.Path, DatasetSplit.Train));

        Assert.Contains(path, error.Message);
        Assert.Contains("not a positive multiple of the 3074-byte record", error.Message);
        Assert.Contains("100 stray bytes from byte offset 6148", error.Message);
    }

    [Fact]
    public void AnEmptyFileIsRefused()
    {
        var path = WriteSplit(DatasetSplit.Train, []);
        var error = Assert.Throws<InvalidDataException>(() => Cifar100Mtl.ReadRecords(path));
        Assert.Contains("length 0 bytes", error.Message);
    }

    [Fact]
    public void ACoarseLabelThatDisagreesWithTheOfficialMapIsRefused()
    {
        var bytes = Records(Valid(1), (5, 4), Valid(3));
        var path = WriteSplit(DatasetSplit.Train, bytes);

        var error = Assert.Throws<InvalidDataException>(() => Cifar100Mtl.ReadRecords(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("record 1: coarse label 5 at byte offset 3074 disagrees with fine label 4 at byte offset 3075, whose coarse class is 0", error.Message);
    }

    [Theory]
    [InlineData(20, 4, "coarse label 20 at byte offset 3074 is not in 0..19")]
    [InlineData(0, 100, "fine label 100 at byte offset 3075 is not in 0..99")]
    [InlineData(255, 255, "coarse label 255 at byte offset 3074 is not in 0..19")]
    public void OutOfRangeLabelsAreRefusedWithTheirOffset(int coarse, int fine, string expected)
    {
        var path = WriteSplit(DatasetSplit.Train, Records(Valid(1), (coarse, fine)));
        var error = Assert.Throws<InvalidDataException>(() => Cifar100Mtl.ReadRecords(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("record 1: " + expected, error.Message);
    }

    [Fact]
    public void AMissingFileSaysWhereItGoesAndHowToGetIt()
    {
        var error = Assert.Throws<FileNotFoundException>(() => Cifar100Mtl.Load(_temp.Path, DatasetSplit.Train));

        var expectedPath = Path.Combine(_temp.Path, "cifar100", "cifar-100-binary", "train.bin");
        Assert.Equal(expectedPath, error.FileName);
        Assert.StartsWith(expectedPath + " is missing", error.Message);
        Assert.Contains($"'gsurg data download cifar100 --to {_temp.Path}'", error.Message);
        Assert.Contains("https://www.cs.toronto.edu/~kriz/cifar.html", error.Message);
        Assert.Contains(Path.Combine(_temp.Path, "cifar100") + Path.DirectorySeparatorChar, error.Message);
    }
}
