using System.Globalization;

namespace GradientSurgery.Data;

/// <summary>
/// Loads NYUv2 in the preprocessed form of MTAN (Liu, Johns and Davison, CVPR 2019): per split a folder with
/// <c>image/</c>, <c>label/</c>, <c>depth/</c> and <c>normal/</c>, each holding <c>0.npy</c> … <c>(N−1).npy</c>.
/// </summary>
/// <remarks>
/// <para>Layout of a data directory: <c>DIR/nyuv2/train/</c> and <c>DIR/nyuv2/val/</c>, which is what unzipping
/// MTAN's <c>nyuv2.zip</c> into <c>DIR/</c> produces.</para>
/// <para>What the reference code says (lorenmt/mtan, <c>im2im_pred/create_dataset.py</c>, read for this loader): the
/// split folders are <c>root/train</c> and <c>root/val</c>; the length is the number of <c>*.npy</c> files in
/// <c>image/</c>; example <c>i</c> is <c>{image,label,depth,normal}/{i}.npy</c>; image, depth and normal are moved
/// from channel-last to channel-first with <c>np.moveaxis(x, -1, 0)</c> while the label is used as is, so the files
/// hold H × W × 3, H × W × 1, H × W × 3 and H × W. Its <c>utils.py</c> treats label −1 as "ignore"
/// (<c>ignore_index=-1</c>), depth 0 and an all-zero normal as missing (masks from the sum over channels ≠ 0), and
/// its README names the 13-class labelling. The counts (795/654) and the 288 × 384 resolution come from the paper;
/// the loader does not insist on them, only that every file of a split agrees on H and W.</para>
/// </remarks>
public static class Nyuv2Dataset
{
    /// <summary>Folder name under a data directory: <c>nyuv2</c>.</summary>
    public const string DatasetName = "nyuv2";

    /// <summary>Number of segmentation classes: 13.</summary>
    public const int ClassCount = 13;

    /// <summary>The segmentation label of unlabelled pixels: −1.</summary>
    public const int IgnoreLabel = -1;

    /// <summary>The official page of the preprocessed data: the MTAN repository, whose README links <c>nyuv2.zip</c>.</summary>
    public const string OfficialPage = "https://github.com/lorenmt/mtan";

    /// <summary>Where MTAN's README points for <c>nyuv2.zip</c> (Dropbox, which serves no stable direct link and publishes no checksum).</summary>
    public const string ArchiveUrl = "https://www.dropbox.com/s/p2nn02wijg7peiy/nyuv2.zip?dl=0";

    /// <summary>The four per-example folders of a split, in the order image, label, depth, normal.</summary>
    public static IReadOnlyList<string> Modalities { get; } = Array.AsReadOnly(new[] { "image", "label", "depth", "normal" });

    /// <summary>The folder of a split: <c>DIR/nyuv2/train</c> or <c>DIR/nyuv2/val</c>.</summary>
    /// <param name="dataDirectory">The data directory.</param>
    /// <param name="split">The split.</param>
    /// <returns>The path (it need not exist).</returns>
    public static string SplitFolder(string dataDirectory, Nyuv2Split split) => Path.Combine(dataDirectory, DatasetName, split switch
    {
        Nyuv2Split.Train => "train",
        Nyuv2Split.Validation => "val",
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "Unknown split."),
    });

    /// <summary>What to do when part of the data is missing.</summary>
    /// <param name="dataDirectory">The data directory.</param>
    /// <param name="missingPath">The missing file or folder.</param>
    /// <returns>One sentence naming what is missing, where the data goes and where to get it.</returns>
    public static string MissingMessage(string dataDirectory, string missingPath) =>
        $"{missingPath} is missing; download MTAN's preprocessed nyuv2.zip (linked from the README of {OfficialPage}: {ArchiveUrl}) and unzip it into {dataDirectory}{Path.DirectorySeparatorChar} "
        + $"so that {Path.Combine(dataDirectory, DatasetName, "train")} and {Path.Combine(dataDirectory, DatasetName, "val")} each hold image/, label/, depth/ and normal/ with 0.npy, 1.npy, …; 'gsurg data download {DatasetName} --to {dataDirectory}' prints the same instructions.";

    /// <summary>Loads one split completely (about 2.8 GB of arrays for the 795 training images).</summary>
    /// <param name="dataDirectory">The data directory (holding <c>nyuv2/</c>).</param>
    /// <param name="split">The split.</param>
    /// <returns>The split, channel-first.</returns>
    /// <exception cref="FileNotFoundException">A folder or file is missing; the message says what to place where.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, has another shape than its split, a label outside −1..12 or a non-finite value; the message names the file.</exception>
    public static Nyuv2Data Load(string dataDirectory, Nyuv2Split split)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        var folder = SplitFolder(dataDirectory, split);
        var count = CountExamples(dataDirectory, folder);
        int height = 0, width = 0;
        float[] images = [], depth = [], normals = [];
        int[] segmentation = [];
        for (var i = 0; i < count; i++)
        {
            var image = ReadExampleFile(dataDirectory, folder, "image", i);
            var label = ReadExampleFile(dataDirectory, folder, "label", i);
            var depthMap = ReadExampleFile(dataDirectory, folder, "depth", i);
            var normal = ReadExampleFile(dataDirectory, folder, "normal", i);
            if (i == 0)
            {
                if (image.ShapeArray is not [> 0, > 0, 3])
                {
                    throw new InvalidDataException($"'{image.SourcePath}': shape ({string.Join(", ", image.Shape)}), expected (H, W, 3) with H, W > 0.");
                }
                (height, width) = (image.ShapeArray[0], image.ShapeArray[1]);
                var pixels = (long)height * width;
                if (count * pixels * 3 > Array.MaxLength)
                {
                    throw new InvalidDataException($"'{folder}': {count} images of {height}×{width} are more than one array can hold.");
                }
                images = new float[count * pixels * 3];
                segmentation = new int[count * pixels];
                depth = new float[count * pixels];
                normals = new float[count * pixels * 3];
            }
            var plane = height * width;
            CheckShape(image, [height, width, 3]);
            CheckShape(label, [height, width]);
            CheckShape(depthMap, [height, width, 1]);
            CheckShape(normal, [height, width, 3]);
            ToChannelFirst(CheckFinite(image.ToSingleArray(), image.SourcePath), 3, plane, images.AsSpan(i * plane * 3, plane * 3));
            ToChannelFirst(CheckFinite(depthMap.ToSingleArray(), depthMap.SourcePath), 1, plane, depth.AsSpan(i * plane, plane));
            ToChannelFirst(CheckFinite(normal.ToSingleArray(), normal.SourcePath), 3, plane, normals.AsSpan(i * plane * 3, plane * 3));
            var labels = label.ToInt32Array();
            for (var p = 0; p < labels.Length; p++)
            {
                if (labels[p] is < IgnoreLabel or >= ClassCount)
                {
                    throw new InvalidDataException($"'{label.SourcePath}': label {labels[p]} at pixel {p} (row {p / width}, column {p % width}) is not a class in 0..{ClassCount - 1} nor {IgnoreLabel} (unlabelled).");
                }
            }
            labels.CopyTo(segmentation.AsSpan(i * plane));
        }
        return new Nyuv2Data(split, count, height, width, images, segmentation, depth, normals);
    }

    /// <summary>Counts the examples of a split: the files of <c>image/</c> must be exactly <c>0.npy</c> … <c>(N−1).npy</c>, N ≥ 1, and the other three folders must hold the same names.</summary>
    private static int CountExamples(string dataDirectory, string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw new FileNotFoundException(MissingMessage(dataDirectory, folder + Path.DirectorySeparatorChar), folder);
        }
        var indexSets = new List<HashSet<int>>();
        foreach (var modality in Modalities)
        {
            var directory = Path.Combine(folder, modality);
            if (!Directory.Exists(directory))
            {
                throw new FileNotFoundException(MissingMessage(dataDirectory, directory + Path.DirectorySeparatorChar), directory);
            }
            var indices = new HashSet<int>();
            foreach (var file in Directory.EnumerateFiles(directory, "*.npy"))
            {
                var stem = Path.GetFileNameWithoutExtension(file);
                // Only canonical decimal names: "007.npy" would be a different file from "7.npy" to the reference loader.
                if (!int.TryParse(stem, NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index.ToString(CultureInfo.InvariantCulture) != stem)
                {
                    throw new InvalidDataException($"'{file}': unexpected file name; {directory} should hold only 0.npy, 1.npy, … (one per example).");
                }
                indices.Add(index);
            }
            indexSets.Add(indices);
        }
        var count = indexSets[0].Count;
        if (count == 0)
        {
            throw new FileNotFoundException(MissingMessage(dataDirectory, Path.Combine(folder, "image", "0.npy")), Path.Combine(folder, "image", "0.npy"));
        }
        for (var m = 0; m < Modalities.Count; m++)
        {
            for (var i = 0; i < count; i++)
            {
                if (!indexSets[m].Contains(i))
                {
                    var missing = Path.Combine(folder, Modalities[m], $"{i}.npy");
                    throw new FileNotFoundException(MissingMessage(dataDirectory, missing) + $" ({Path.Combine(folder, "image")} holds {count} files, so indices 0..{count - 1} are expected in every folder.)", missing);
                }
            }
            if (indexSets[m].Count != count)
            {
                var extra = indexSets[m].Where(index => index >= count).Min();
                throw new InvalidDataException($"'{Path.Combine(folder, Modalities[m], $"{extra}.npy")}': {Path.Combine(folder, "image")} holds {count} files (0..{count - 1}), so this file has no image; the split folders disagree.");
            }
        }
        return count;
    }

    private static NpyArray ReadExampleFile(string dataDirectory, string folder, string modality, int index)
    {
        var path = Path.Combine(folder, modality, $"{index}.npy");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(MissingMessage(dataDirectory, path), path);
        }
        return NpyReader.Read(path);
    }

    private static void CheckShape(NpyArray array, int[] expected)
    {
        if (!array.ShapeArray.AsSpan().SequenceEqual(expected))
        {
            throw new InvalidDataException($"'{array.SourcePath}': shape ({string.Join(", ", array.Shape)}), expected ({string.Join(", ", expected)}) like the split's first image.");
        }
    }

    private static float[] CheckFinite(float[] values, string path)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                throw new InvalidDataException($"'{path}': element {i} is {values[i]}, not a finite number.");
            }
        }
        return values;
    }

    /// <summary>H × W × C (channel-last, as stored) to C × H × W.</summary>
    private static void ToChannelFirst(float[] source, int channels, int plane, Span<float> destination)
    {
        for (var p = 0; p < plane; p++)
        {
            for (var c = 0; c < channels; c++)
            {
                destination[c * plane + p] = source[p * channels + c];
            }
        }
    }
}
