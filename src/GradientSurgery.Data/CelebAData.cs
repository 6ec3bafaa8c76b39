namespace GradientSurgery.Data;

/// <summary>One split of CelebA as 40 binary tasks: resized images and 0/1 attribute labels.</summary>
public sealed class CelebAData
{
    internal CelebAData(
        CelebASplit split, int side, string[] fileNames, IReadOnlyList<string> attributeNames, byte[] images, byte[] labels,
        bool loadedFromCache, string? cachePath, string? cacheRebuildReason)
    {
        Split = split;
        Side = side;
        FileNames = fileNames;
        AttributeNames = attributeNames;
        Images = images;
        Labels = labels;
        LoadedFromCache = loadedFromCache;
        CachePath = cachePath;
        CacheRebuildReason = cacheRebuildReason;
    }

    /// <summary>Which split this is.</summary>
    public CelebASplit Split { get; }

    /// <summary>Side of the square images.</summary>
    public int Side { get; }

    /// <summary>Number of images.</summary>
    public int Count => FileNames.Count;

    /// <summary>The image file names, in the order of the attribute file.</summary>
    public IReadOnlyList<string> FileNames { get; }

    /// <summary>The 40 attribute (task) names.</summary>
    public IReadOnlyList<string> AttributeNames { get; }

    /// <summary>Images: <see cref="Count"/> × 3 × <see cref="Side"/> × <see cref="Side"/> bytes (R, G, B planes, row-major).</summary>
    public byte[] Images { get; }

    /// <summary>Labels: <see cref="Count"/> × 40 bytes, row per image, 1 = attribute present, 0 = absent.</summary>
    public byte[] Labels { get; }

    /// <summary>Whether the images came from a valid cache file rather than being decoded now.</summary>
    public bool LoadedFromCache { get; }

    /// <summary>The cache file read or written, or <see langword="null"/> when caching was off.</summary>
    public string? CachePath { get; }

    /// <summary>Why an existing cache file was rejected and rebuilt, or <see langword="null"/>.</summary>
    public string? CacheRebuildReason { get; }
}
