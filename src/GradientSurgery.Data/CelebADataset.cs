using System.Runtime.ExceptionServices;
using System.Security.Cryptography;

namespace GradientSurgery.Data;

/// <summary>
/// Loads CelebA (Liu, Luo, Wang and Tang, ICCV 2015) as 40 binary attribute tasks: the aligned images decoded and
/// resized to a square, with their 0/1 labels, one split at a time, cached on disk after the first decode.
/// </summary>
/// <remarks>
/// <para>Layout of a data directory: <c>DIR/celeba/list_attr_celeba.txt</c>,
/// <c>DIR/celeba/list_eval_partition.txt</c> and <c>DIR/celeba/img_align_celeba/*.jpg</c> (the folder that
/// <c>img_align_celeba.zip</c> unzips to), exactly as published. Cache files
/// (<c>DIR/celeba/celeba-SPLIT-SIDE.gsceleba</c>) are written beside them.</para>
/// <para>The files are published on the project page's Google Drive, which a program cannot fetch reliably; see
/// <see cref="MissingMessage"/>.</para>
/// </remarks>
public static class CelebADataset
{
    /// <summary>Folder name under a data directory: <c>celeba</c>.</summary>
    public const string DatasetName = "celeba";

    /// <summary>The attribute file name.</summary>
    public const string AttributesFileName = "list_attr_celeba.txt";

    /// <summary>The partition file name.</summary>
    public const string PartitionFileName = "list_eval_partition.txt";

    /// <summary>The folder of the aligned images.</summary>
    public const string ImagesFolderName = "img_align_celeba";

    /// <summary>Default image side: 64, as in Sener and Koltun's (NeurIPS 2018) CelebA experiments.</summary>
    public const int DefaultSide = 64;

    /// <summary>Largest image side accepted (the aligned images are 178 × 218).</summary>
    public const int MaxSide = 512;

    /// <summary>File name extension of cache files.</summary>
    public const string CacheExtension = ".gsceleba";

    /// <summary>The official page, which links the Google Drive folder holding the files.</summary>
    public const string OfficialPage = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html";

    /// <summary>
    /// The published files with the MD5 sums that torchvision's CelebA loader checks: where each goes under
    /// <c>DIR/celeba/</c>, and where it is in the official Google Drive folder.
    /// </summary>
    public static IReadOnlyList<(string File, string DriveLocation, string Md5, string Placement)> PublishedFiles { get; } = Array.AsReadOnly(new[]
    {
        (AttributesFileName, "Anno/list_attr_celeba.txt", "75e246fa4810816ffd6ee81facbd244c", AttributesFileName),
        (PartitionFileName, "Eval/list_eval_partition.txt", "d32c9cbf5e040fd4025c592c306e6668", PartitionFileName),
        ("img_align_celeba.zip", "Img/img_align_celeba.zip", "00d2c5bc6d35e252742224ab0c1e8fcb", ImagesFolderName + "/ (unzipped)"),
    });

    /// <summary>The dataset folder: <c>DIR/celeba</c>.</summary>
    /// <param name="dataDirectory">The data directory.</param>
    /// <returns>The path (it need not exist).</returns>
    public static string Folder(string dataDirectory) => Path.Combine(dataDirectory, DatasetName);

    /// <summary>The cache file of a split and side: <c>DIR/celeba/celeba-train-64.gsceleba</c> and so on.</summary>
    /// <param name="dataDirectory">The data directory.</param>
    /// <param name="split">The split.</param>
    /// <param name="side">The image side.</param>
    /// <returns>The path.</returns>
    public static string CachePath(string dataDirectory, CelebASplit split, int side) =>
        Path.Combine(Folder(dataDirectory), $"celeba-{SplitName(split)}-{side}{CacheExtension}");

    /// <summary>What to do when a file is missing: what goes where, from which page.</summary>
    /// <param name="dataDirectory">The data directory.</param>
    /// <param name="missingPath">The missing file or folder.</param>
    /// <returns>One sentence.</returns>
    public static string MissingMessage(string dataDirectory, string missingPath)
    {
        var folder = Folder(dataDirectory);
        return $"{missingPath} is missing; CelebA cannot be downloaded by a program (its files are on Google Drive): from the official page {OfficialPage} "
            + $"(Google Drive link) download {string.Join(", ", PublishedFiles.Select(f => $"{f.DriveLocation} (MD5 {f.Md5})"))}, "
            + $"put {AttributesFileName} and {PartitionFileName} in {folder}{Path.DirectorySeparatorChar} and unzip img_align_celeba.zip there so that the images are in "
            + $"{Path.Combine(folder, ImagesFolderName)}{Path.DirectorySeparatorChar}; 'gsurg data download {DatasetName} --to {dataDirectory}' prints the same instructions.";
    }

    /// <summary>Reads the two annotation files of a data directory.</summary>
    /// <param name="dataDirectory">The data directory (holding <c>celeba/</c>).</param>
    /// <returns>The annotations of all images.</returns>
    /// <exception cref="FileNotFoundException">An annotation file is missing; the message says what to place where.</exception>
    /// <exception cref="InvalidDataException">A file is malformed; the message names the file, line and token.</exception>
    public static CelebAAnnotations ReadAnnotations(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        var attributes = Path.Combine(Folder(dataDirectory), AttributesFileName);
        var partition = Path.Combine(Folder(dataDirectory), PartitionFileName);
        foreach (var path in new[] { attributes, partition })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException(MissingMessage(dataDirectory, path), path);
            }
        }
        return CelebAAnnotations.Read(attributes, partition);
    }

    /// <summary>Loads one split: reads the annotations, then the images from the cache if it is valid, else decodes them and (re)writes the cache.</summary>
    /// <param name="dataDirectory">The data directory (holding <c>celeba/</c>).</param>
    /// <param name="split">The split.</param>
    /// <param name="side">Side of the square images, 1..512 (default 64).</param>
    /// <param name="useCache">Whether to read and write the cache file.</param>
    /// <returns>The split.</returns>
    /// <exception cref="FileNotFoundException">An annotation file, the image folder or an image is missing; the message says what to place where.</exception>
    /// <exception cref="InvalidDataException">An annotation file is malformed or an image cannot be decoded; the message names the file.</exception>
    public static CelebAData Load(string dataDirectory, CelebASplit split, int side = DefaultSide, bool useCache = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(side, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(side, MaxSide);
        if (!Enum.IsDefined(split))
        {
            throw new ArgumentOutOfRangeException(nameof(split), split, "Unknown split.");
        }
        var annotations = ReadAnnotations(dataDirectory);
        var imagesFolder = Path.Combine(Folder(dataDirectory), ImagesFolderName);
        if (!Directory.Exists(imagesFolder))
        {
            throw new FileNotFoundException(MissingMessage(dataDirectory, imagesFolder + Path.DirectorySeparatorChar), imagesFolder);
        }

        var selected = Enumerable.Range(0, annotations.Count).Where(i => annotations.Partitions[i] == (int)split).ToArray();
        var fileNames = selected.Select(i => annotations.FileNames[i]).ToArray();
        var labels = new byte[selected.Length * CelebAAnnotations.AttributeCount];
        for (var k = 0; k < selected.Length; k++)
        {
            annotations.Labels.AsSpan(selected[k] * CelebAAnnotations.AttributeCount, CelebAAnnotations.AttributeCount)
                .CopyTo(labels.AsSpan(k * CelebAAnnotations.AttributeCount));
        }
        if ((long)selected.Length * 3 * side * side > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(side), side, $"{selected.Length} images of {side}×{side} are more than one array can hold; use a smaller side.");
        }

        string? cachePath = null;
        string? rebuildReason = null;
        CelebACache.Key? key = null;
        if (useCache)
        {
            cachePath = CachePath(dataDirectory, split, side);
            key = new CelebACache.Key(
                split, side, Sha256(Path.Combine(Folder(dataDirectory), AttributesFileName)), Sha256(Path.Combine(Folder(dataDirectory), PartitionFileName)), selected.Length);
            if (File.Exists(cachePath))
            {
                try
                {
                    var cached = CelebACache.Read(cachePath, key);
                    return new CelebAData(split, side, fileNames, annotations.AttributeNames, cached, labels, true, cachePath, null);
                }
                catch (Exception error) when (error is InvalidDataException or IOException)
                {
                    rebuildReason = error.Message;
                }
            }
        }

        var images = DecodeAll(dataDirectory, imagesFolder, fileNames, side);
        if (cachePath is not null)
        {
            CelebACache.Write(cachePath, key!, images);
        }
        return new CelebAData(split, side, fileNames, annotations.AttributeNames, images, labels, false, cachePath, rebuildReason);
    }

    private static byte[] DecodeAll(string dataDirectory, string imagesFolder, string[] fileNames, int side)
    {
        var imageBytes = 3 * side * side;
        var images = new byte[fileNames.Length * imageBytes];
        // Decoding is independent per image and dominates the load, so it runs on every core; the error reported is
        // that of the first failing image in file order, so that it does not depend on scheduling.
        var failures = new Exception?[fileNames.Length];
        Parallel.For(0, fileNames.Length, (i, state) =>
        {
            try
            {
                var path = Path.Combine(imagesFolder, fileNames[i]);
                if (!File.Exists(path))
                {
                    throw new FileNotFoundException(MissingMessage(dataDirectory, path), path);
                }
                CelebAImageDecoder.DecodeInto(path, side, images.AsSpan(i * imageBytes, imageBytes));
            }
            catch (Exception error) when (error is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                failures[i] = error;
                state.Break();
            }
        });
        var first = failures.FirstOrDefault(failure => failure is not null);
        if (first is not null)
        {
            ExceptionDispatchInfo.Throw(first);
        }
        return images;
    }

    private static byte[] Sha256(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return SHA256.HashData(stream);
    }

    private static string SplitName(CelebASplit split) => split switch
    {
        CelebASplit.Train => "train",
        CelebASplit.Validation => "val",
        CelebASplit.Test => "test",
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "Unknown split."),
    };
}
