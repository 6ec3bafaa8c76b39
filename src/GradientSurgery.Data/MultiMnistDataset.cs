namespace GradientSurgery.Data;

/// <summary>
/// One split of MultiMNIST, MultiFashion or Multi-(Fashion+MNIST), composed by <see cref="MultiMnistComposer"/>
/// from the original IDX files and cached on disk.
/// </summary>
/// <remarks>
/// Images are 28×28 unsigned bytes (0 = background), row-major, image after image, as in the reference
/// construction (the reference scales to [0, 1] and normalises only when batching). Task 1 is
/// <see cref="LeftLabels"/>, task 2 <see cref="RightLabels"/>.
/// </remarks>
public sealed class MultiMnistDataset
{
    /// <summary>Side of every image (28).</summary>
    public const int ImageSide = MultiMnistComposer.OutputSide;

    /// <summary>Bytes per image (784).</summary>
    public const int PixelsPerImage = MultiMnistComposer.OutputPixels;

    /// <summary>File name extension of cache files.</summary>
    public const string CacheExtension = ".gsmulti";

    // XORed into the seed of the test split so that train and test pairings come from unrelated streams
    // (ASCII "t10k" in the high bytes); the train split uses the seed as is.
    private const ulong TestSplitSalt = 0x7431306B_00000000UL;

    private MultiMnistDataset(
        MultiMnistVariant variant, DatasetSplit split, long seed, MultiMnistComposition data,
        bool loadedFromCache, string? cachePath, string? cacheRebuildReason)
    {
        Variant = variant;
        Split = split;
        Seed = seed;
        Images = data.Images;
        LeftLabels = data.LeftLabels;
        RightLabels = data.RightLabels;
        RightIndices = data.RightIndices;
        LoadedFromCache = loadedFromCache;
        CachePath = cachePath;
        CacheRebuildReason = cacheRebuildReason;
    }

    /// <summary>Which benchmark this is.</summary>
    public MultiMnistVariant Variant { get; }

    /// <summary>Which split of the source files it was composed from.</summary>
    public DatasetSplit Split { get; }

    /// <summary>The seed it was composed with.</summary>
    public long Seed { get; }

    /// <summary>Number of images (60,000 for train, 10,000 for test with the original files).</summary>
    public int Count => LeftLabels.Length;

    /// <summary>The images: <see cref="Count"/> · 784 bytes, row-major, image after image.</summary>
    public byte[] Images { get; }

    /// <summary>Class (0..9) of the upper-left image of each image: task 1.</summary>
    public byte[] LeftLabels { get; }

    /// <summary>Class (0..9) of the lower-right image of each image: task 2.</summary>
    public byte[] RightLabels { get; }

    /// <summary>For each image, the index of its lower-right image in the right-hand source split (image i's upper-left image is source image i).</summary>
    public int[] RightIndices { get; }

    /// <summary>Whether the data came from a valid cache file rather than being composed now.</summary>
    public bool LoadedFromCache { get; }

    /// <summary>The cache file read or written, or <see langword="null"/> when caching was off.</summary>
    public string? CachePath { get; }

    /// <summary>Why an existing cache file was rejected and rebuilt (corrupt, stale, other parameters), or <see langword="null"/> if none was rejected.</summary>
    public string? CacheRebuildReason { get; }

    /// <summary>The pixels of one image.</summary>
    /// <param name="index">Image index in [0, <see cref="Count"/>).</param>
    /// <returns>784 bytes, row-major.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is out of range.</exception>
    public ReadOnlySpan<byte> Image(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Image index must be in [0, {Count}).");
        }
        return Images.AsSpan(index * PixelsPerImage, PixelsPerImage);
    }

    /// <summary>
    /// Loads a split: from the cache when a valid cache built from the same parameters and the same source files
    /// exists, otherwise by reading the IDX files, composing and (when <paramref name="cacheDirectory"/> is given)
    /// writing the cache atomically.
    /// </summary>
    /// <param name="variant">Which benchmark.</param>
    /// <param name="dataDirectory">Directory holding <c>mnist/</c> and <c>fashion-mnist/</c> with their four original <c>.gz</c> files each (see <see cref="SourceDatasets"/>).</param>
    /// <param name="split">Train or test; left and right images both come from this split.</param>
    /// <param name="seed">
    /// Seed of the pairing. The train split's generator starts from the seed itself, the test split's from the seed
    /// XOR 0x7431306B00000000, so the two splits draw unrelated pairings. Variants with the same left and right
    /// sizes and the same seed pair the same indices.
    /// </param>
    /// <param name="cacheDirectory">Where to keep cache files (created if missing); <see langword="null"/> to compose every time without caching.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="FileNotFoundException">A source file is missing; the message names it and the command that downloads it.</exception>
    /// <exception cref="InvalidDataException">A source file is invalid (see <see cref="IdxReader"/>) or its images are not 28×28.</exception>
    /// <exception cref="IOException">The cache file could not be written.</exception>
    public static MultiMnistDataset Load(MultiMnistVariant variant, string dataDirectory, DatasetSplit split, long seed, string? cacheDirectory)
    {
        if (!Enum.IsDefined(variant))
        {
            throw new ArgumentOutOfRangeException(nameof(variant), variant, "Unknown MultiMNIST variant.");
        }
        if (!Enum.IsDefined(split))
        {
            throw new ArgumentOutOfRangeException(nameof(split), split, "Unknown split.");
        }
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        if (cacheDirectory is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(cacheDirectory);
        }

        var files = SourceFiles(variant, dataDirectory, split);
        foreach (var (dataset, path) in files)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException(
                    $"{variant.CliName()} needs '{path}', which does not exist. Download the {dataset} files with "
                    + $"`gsurg data download {dataset} --to {dataDirectory}`, or copy the original {Path.GetFileName(path)} "
                    + $"(and the other {dataset} .gz files) into '{Path.GetDirectoryName(path)}'.",
                    path);
            }
        }
        var key = new MultiMnistCacheKey(
            variant, split, seed,
            files.Select(file => file.Path).Distinct(StringComparer.Ordinal).Select(path => SourceFileFingerprint.Of(dataDirectory, path)).ToArray());

        string? cachePath = null;
        string? rejected = null;
        if (cacheDirectory is not null)
        {
            cachePath = Path.Combine(cacheDirectory, CacheFileName(variant, split, seed));
            if (File.Exists(cachePath))
            {
                try
                {
                    var cached = MultiMnistCache.Read(cachePath, key);
                    return new MultiMnistDataset(variant, split, seed, cached, loadedFromCache: true, cachePath, cacheRebuildReason: null);
                }
                catch (Exception error) when (error is InvalidDataException or IOException or UnauthorizedAccessException)
                {
                    rejected = error.Message;
                }
            }
        }

        var left = ReadSource(files[0].Path, files[1].Path);
        var right = files[2].Path == files[0].Path ? left : ReadSource(files[2].Path, files[3].Path);
        if (left.Count > 0 && right.Count == 0)
        {
            throw new InvalidDataException($"'{files[2].Path}' holds no images to pair with the {left.Count} images of '{files[0].Path}'.");
        }
        var composed = MultiMnistComposer.Compose(left, right, PairingSeed(seed, split));
        if (cachePath is not null)
        {
            MultiMnistCache.Write(cachePath, key, composed);
        }
        return new MultiMnistDataset(variant, split, seed, composed, loadedFromCache: false, cachePath, rejected);
    }

    /// <summary>The source files a split is composed from, in the order left images, left labels, right images, right labels.</summary>
    /// <param name="variant">Which benchmark.</param>
    /// <param name="dataDirectory">Directory holding <c>mnist/</c> and <c>fashion-mnist/</c>.</param>
    /// <param name="split">Train or test.</param>
    /// <returns>Four (source dataset name, path) pairs; for single-source variants the right pair repeats the left one.</returns>
    public static IReadOnlyList<(string Dataset, string Path)> SourceFiles(MultiMnistVariant variant, string dataDirectory, DatasetSplit split)
    {
        var leftSource = variant.LeftSource();
        var rightSource = variant.RightSource();
        return
        [
            (leftSource, SourceDatasets.ImagesPath(dataDirectory, leftSource, split)),
            (leftSource, SourceDatasets.LabelsPath(dataDirectory, leftSource, split)),
            (rightSource, SourceDatasets.ImagesPath(dataDirectory, rightSource, split)),
            (rightSource, SourceDatasets.LabelsPath(dataDirectory, rightSource, split)),
        ];
    }

    /// <summary>Name of the cache file of a split, e.g. <c>multimnist-train-seed42.gsmulti</c>.</summary>
    /// <param name="variant">Which benchmark.</param>
    /// <param name="split">Train or test.</param>
    /// <param name="seed">The seed.</param>
    /// <returns>The file name (no directory).</returns>
    public static string CacheFileName(MultiMnistVariant variant, DatasetSplit split, long seed) =>
        $"{variant.CliName()}-{(split == DatasetSplit.Train ? "train" : "test")}-seed{seed}{CacheExtension}";

    /// <summary>The generator seed used for a split (see the <c>seed</c> parameter of <see cref="Load"/>).</summary>
    internal static long PairingSeed(long seed, DatasetSplit split) =>
        split == DatasetSplit.Train ? seed : unchecked((long)((ulong)seed ^ TestSplitSalt));

    private static IdxLabeledImages ReadSource(string imagesPath, string labelsPath)
    {
        var source = IdxReader.ReadLabeledImages(imagesPath, labelsPath);
        if (source.Images.Rows != MultiMnistComposer.SourceSide || source.Images.Columns != MultiMnistComposer.SourceSide)
        {
            throw new InvalidDataException(
                $"'{imagesPath}': MultiMNIST composes {MultiMnistComposer.SourceSide}×{MultiMnistComposer.SourceSide} images, but this file holds {source.Images.Rows}×{source.Images.Columns} images.");
        }
        return source;
    }
}
