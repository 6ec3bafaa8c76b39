using GradientSurgery.Data;
using static GradientSurgery.Tests.Data.IdxTestFiles;

namespace GradientSurgery.Tests.Data;

public sealed class MultiMnistDatasetTests : IDisposable
{
    private const int TrainCount = 12;
    private const int TestCount = 5;

    private readonly TempDirectory _temp = new();
    private readonly string _data;
    private readonly string _cache;

    public MultiMnistDatasetTests()
    {
        _data = Path.Combine(_temp.Path, "data");
        _cache = Path.Combine(_temp.Path, "cache");
        WriteSource(_data, SourceDatasets.Mnist, TrainCount, TestCount, seed: 1);
        WriteSource(_data, SourceDatasets.FashionMnist, TrainCount, TestCount, seed: 100);
    }

    public void Dispose() => _temp.Dispose();

    private MultiMnistDataset Load(MultiMnistVariant variant = MultiMnistVariant.MultiMnist, DatasetSplit split = DatasetSplit.Train, long seed = 3) =>
        MultiMnistDataset.Load(variant, _data, split, seed, _cache);

    private static void AssertSameData(MultiMnistDataset expected, MultiMnistDataset actual)
    {
        Assert.Equal(expected.Images, actual.Images);
        Assert.Equal(expected.LeftLabels, actual.LeftLabels);
        Assert.Equal(expected.RightLabels, actual.RightLabels);
        Assert.Equal(expected.RightIndices, actual.RightIndices);
    }

    [Theory]
    [InlineData(MultiMnistVariant.MultiMnist, "mnist", "mnist")]
    [InlineData(MultiMnistVariant.MultiFashion, "fashion-mnist", "fashion-mnist")]
    [InlineData(MultiMnistVariant.MultiFashionMnist, "mnist", "fashion-mnist")]
    public void EachVariantTakesItsImagesFromTheRightSources(MultiMnistVariant variant, string leftSource, string rightSource)
    {
        foreach (var split in new[] { DatasetSplit.Train, DatasetSplit.Test })
        {
            var left = IdxReader.ReadLabeledImages(SourceDatasets.ImagesPath(_data, leftSource, split), SourceDatasets.LabelsPath(_data, leftSource, split));
            var right = IdxReader.ReadLabeledImages(SourceDatasets.ImagesPath(_data, rightSource, split), SourceDatasets.LabelsPath(_data, rightSource, split));
            var other = leftSource == rightSource ? null
                : IdxReader.ReadLabeledImages(SourceDatasets.ImagesPath(_data, leftSource, split), SourceDatasets.LabelsPath(_data, leftSource, split));

            var dataset = MultiMnistDataset.Load(variant, _data, split, seed: 9, cacheDirectory: null);

            Assert.Equal((variant, split, 9L), (dataset.Variant, dataset.Split, dataset.Seed));
            Assert.Equal(split == DatasetSplit.Train ? TrainCount : TestCount, dataset.Count);
            Assert.Null(dataset.CachePath);
            Assert.False(dataset.LoadedFromCache);
            var expected = new byte[MultiMnistDataset.PixelsPerImage];
            for (var i = 0; i < dataset.Count; i++)
            {
                var j = dataset.RightIndices[i];
                Assert.Equal(left.Labels[i], dataset.LeftLabels[i]);
                Assert.Equal(right.Labels[j], dataset.RightLabels[i]);
                MultiMnistComposer.ComposeImage(left.Images.Image(i), right.Images.Image(j), expected);
                Assert.Equal(expected, dataset.Image(i).ToArray());
                if (other is not null)
                {
                    // The mixed variant must not have taken the right image from the left (MNIST) source.
                    MultiMnistComposer.ComposeImage(left.Images.Image(i), other.Images.Image(j), expected);
                    Assert.NotEqual(expected, dataset.Image(i).ToArray());
                }
            }
        }
    }

    [Fact]
    public void SecondLoadComesFromTheCacheAndIsIdentical()
    {
        var first = Load();
        Assert.False(first.LoadedFromCache);
        Assert.Null(first.CacheRebuildReason);
        Assert.Equal(Path.Combine(_cache, "multimnist-train-seed3.gsmulti"), first.CachePath);
        Assert.True(File.Exists(first.CachePath));
        // Written atomically: no temporary file is left behind.
        Assert.Equal([first.CachePath], Directory.GetFiles(_cache));

        var second = Load();
        Assert.True(second.LoadedFromCache);
        Assert.Null(second.CacheRebuildReason);
        AssertSameData(first, second);
        Assert.Equal(first.Count, second.Count);
    }

    [Fact]
    public void ComposingWithoutCacheEqualsCachedData()
    {
        var cached = Load();
        var again = Load();
        var uncached = MultiMnistDataset.Load(MultiMnistVariant.MultiMnist, _data, DatasetSplit.Train, 3, cacheDirectory: null);
        Assert.True(again.LoadedFromCache);
        AssertSameData(cached, uncached);
        AssertSameData(again, uncached);
    }

    [Fact]
    public void SeedsAndSplitsGiveDifferentPairings()
    {
        var a = Load(seed: 1);
        var b = Load(seed: 2);
        Assert.NotEqual(a.RightIndices, b.RightIndices);
        Assert.NotEqual(a.CachePath, b.CachePath);
        Assert.Equal(3L, MultiMnistDataset.PairingSeed(3, DatasetSplit.Train));
        Assert.NotEqual(3L, MultiMnistDataset.PairingSeed(3, DatasetSplit.Test));
        Assert.EndsWith("multifashion-mnist-test-seed-4.gsmulti", Load(MultiMnistVariant.MultiFashionMnist, DatasetSplit.Test, -4).CachePath, StringComparison.Ordinal);
    }

    public static TheoryData<string, Func<long, long>, string> Corruptions => new()
    {
        { "payload byte", length => length / 2, "checksum mismatch" },
        { "checksum byte", length => length - 1, "checksum mismatch" },
        { "magic", _ => 0, "not a MultiMNIST cache file" },
        { "format version", _ => 8, "format version" },
        { "seed", _ => 20, "built for multimnist / train / seed" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void CorruptedCacheIsRebuilt(string what, Func<long, long> offset, string reason)
    {
        var original = Load();
        var bytes = File.ReadAllBytes(original.CachePath!);
        bytes[offset(bytes.Length)] ^= 0x40;
        File.WriteAllBytes(original.CachePath!, bytes);

        var rebuilt = Load();
        Assert.False(rebuilt.LoadedFromCache, what);
        Assert.Contains(reason, rebuilt.CacheRebuildReason, StringComparison.Ordinal);
        Assert.Contains(original.CachePath!, rebuilt.CacheRebuildReason, StringComparison.Ordinal);
        AssertSameData(original, rebuilt);

        // The rebuild rewrote the cache, so the next load uses it again.
        var next = Load();
        Assert.True(next.LoadedFromCache, what);
        AssertSameData(original, next);
    }

    [Fact]
    public void TruncatedOrEmptyCacheIsRebuilt()
    {
        var original = Load();
        var bytes = File.ReadAllBytes(original.CachePath!);
        File.WriteAllBytes(original.CachePath!, bytes[..(bytes.Length - 100)]);
        var rebuilt = Load();
        Assert.False(rebuilt.LoadedFromCache);
        Assert.Contains("file length", rebuilt.CacheRebuildReason, StringComparison.Ordinal);
        AssertSameData(original, rebuilt);

        File.WriteAllBytes(original.CachePath!, bytes[..5]);
        var fromStub = Load();
        Assert.False(fromStub.LoadedFromCache);
        Assert.Contains("truncated", fromStub.CacheRebuildReason, StringComparison.Ordinal);
    }

    [Fact]
    public void CacheOfOtherParametersUnderThisNameIsRebuilt()
    {
        var seed1 = Load(seed: 1);
        var seed2Path = Path.Combine(_cache, MultiMnistDataset.CacheFileName(MultiMnistVariant.MultiMnist, DatasetSplit.Train, 2));
        File.Copy(seed1.CachePath!, seed2Path);

        var seed2 = Load(seed: 2);
        Assert.False(seed2.LoadedFromCache);
        Assert.Contains("built for multimnist / train / seed 1, but multimnist / train / seed 2 was requested", seed2.CacheRebuildReason, StringComparison.Ordinal);
        Assert.NotEqual(seed1.RightIndices, seed2.RightIndices);
    }

    [Fact]
    public void ChangedSourceFileTriggersARebuild()
    {
        var original = Load(MultiMnistVariant.MultiFashionMnist);
        Assert.True(Load(MultiMnistVariant.MultiFashionMnist).LoadedFromCache);

        // Same counts and sizes, different pixels in the right-hand source.
        var path = SourceDatasets.ImagesPath(_data, SourceDatasets.FashionMnist, DatasetSplit.Train);
        WriteGz(path, ImagesIdx(TrainCount, 28, 28, RandomImages(TrainCount, 555)));

        var rebuilt = Load(MultiMnistVariant.MultiFashionMnist);
        Assert.False(rebuilt.LoadedFromCache);
        Assert.Contains("source files changed", rebuilt.CacheRebuildReason, StringComparison.Ordinal);
        Assert.Contains("fashion-mnist/train-images-idx3-ubyte.gz", rebuilt.CacheRebuildReason, StringComparison.Ordinal);
        Assert.Equal(original.RightIndices, rebuilt.RightIndices);
        Assert.NotEqual(original.Images, rebuilt.Images);
    }

    [Fact]
    public void MissingSourceFileNamesItAndTheDownloadCommand()
    {
        var path = SourceDatasets.LabelsPath(_data, SourceDatasets.FashionMnist, DatasetSplit.Test);
        File.Delete(path);
        var error = Assert.Throws<FileNotFoundException>(() => Load(MultiMnistVariant.MultiFashion, DatasetSplit.Test));
        Assert.Equal(path, error.FileName);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains($"gsurg data download fashion-mnist --to {_data}", error.Message, StringComparison.Ordinal);
        // MultiMNIST does not need Fashion-MNIST.
        Assert.Equal(TestCount, Load(MultiMnistVariant.MultiMnist, DatasetSplit.Test).Count);
    }

    [Fact]
    public void InvalidSourceFilesAreReportedNotCached()
    {
        var images = SourceDatasets.ImagesPath(_data, SourceDatasets.Mnist, DatasetSplit.Train);
        WriteGz(images, ImagesIdx(TrainCount, 20, 20, new byte[TrainCount * 400]));
        var error = Assert.Throws<InvalidDataException>(() => Load());
        Assert.Contains(images, error.Message, StringComparison.Ordinal);
        Assert.Contains("20×20", error.Message, StringComparison.Ordinal);

        WriteGz(images, ImagesIdx(TrainCount + 1, 28, 28, RandomImages(TrainCount + 1, 1)));
        var mismatch = Assert.Throws<InvalidDataException>(() => Load());
        Assert.Contains("13 images", mismatch.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_cache) && Directory.GetFiles(_cache).Length > 0);
    }

    [Fact]
    public void BadArgumentsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MultiMnistDataset.Load((MultiMnistVariant)9, _data, DatasetSplit.Train, 0, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => MultiMnistDataset.Load(MultiMnistVariant.MultiMnist, _data, (DatasetSplit)9, 0, null));
        Assert.Throws<ArgumentException>(() => MultiMnistDataset.Load(MultiMnistVariant.MultiMnist, " ", DatasetSplit.Train, 0, null));
        Assert.Throws<ArgumentException>(() => MultiMnistDataset.Load(MultiMnistVariant.MultiMnist, _data, DatasetSplit.Train, 0, ""));
        Assert.Throws<ArgumentOutOfRangeException>(() => Load().Image(TrainCount));
    }
}
