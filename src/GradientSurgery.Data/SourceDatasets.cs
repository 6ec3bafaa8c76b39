namespace GradientSurgery.Data;

/// <summary>
/// The two source datasets (MNIST and Fashion-MNIST): their names, which double as folder names under a data
/// directory, their four file names, the published MD5 sums of those files and the public mirrors serving them.
/// </summary>
/// <remarks>
/// Layout of a data directory: <c>DIR/mnist/</c> and <c>DIR/fashion-mnist/</c>, each holding
/// <c>train-images-idx3-ubyte.gz</c>, <c>train-labels-idx1-ubyte.gz</c>, <c>t10k-images-idx3-ubyte.gz</c> and
/// <c>t10k-labels-idx1-ubyte.gz</c> exactly as published. The MD5 sums are the ones torchvision's MNIST and
/// FashionMNIST loaders check.
/// </remarks>
public static class SourceDatasets
{
    /// <summary>MNIST handwritten digits (LeCun, Cortes and Burges; CC BY-SA 3.0).</summary>
    public const string Mnist = "mnist";

    /// <summary>Fashion-MNIST clothing articles (Xiao, Rasul and Vollgraf, Zalando Research, 2017; MIT).</summary>
    public const string FashionMnist = "fashion-mnist";

    private static readonly string[] AllNames = [Mnist, FashionMnist];

    // Mirrors in the order tried. MNIST: the S3 mirror maintained for PyTorch's CI and torchvision, then the
    // original site (which has been refusing automated downloads with 403 at times). Fashion-MNIST: the
    // Zalando bucket torchvision uses.
    private static readonly Dictionary<string, string[]> MirrorTable = new(StringComparer.Ordinal)
    {
        [Mnist] = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
        [FashionMnist] = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    };

    private static readonly Dictionary<(string Dataset, string File), string> Md5Table = new()
    {
        [(Mnist, "train-images-idx3-ubyte.gz")] = "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        [(Mnist, "train-labels-idx1-ubyte.gz")] = "d53e105ee54ea40749a09fcbcd1e9432",
        [(Mnist, "t10k-images-idx3-ubyte.gz")] = "9fb629c4189551a2d022fa330f9573f3",
        [(Mnist, "t10k-labels-idx1-ubyte.gz")] = "ec29112dd5afa0611ce80d1b7f02629c",
        [(FashionMnist, "train-images-idx3-ubyte.gz")] = "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        [(FashionMnist, "train-labels-idx1-ubyte.gz")] = "25c81989df183df01b3e8a0aad5dffbe",
        [(FashionMnist, "t10k-images-idx3-ubyte.gz")] = "bef4ecab320f06d8554ea6380940ec79",
        [(FashionMnist, "t10k-labels-idx1-ubyte.gz")] = "bb300cfdad3c16e7a12a480ee83cd310",
    };

    /// <summary>The dataset names accepted everywhere: <c>mnist</c> and <c>fashion-mnist</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = Array.AsReadOnly(AllNames);

    /// <summary>The four file names of each dataset: train images, train labels, test images, test labels.</summary>
    public static IReadOnlyList<string> FileNames { get; } = Array.AsReadOnly(new[]
    {
        ImagesFileName(DatasetSplit.Train), LabelsFileName(DatasetSplit.Train),
        ImagesFileName(DatasetSplit.Test), LabelsFileName(DatasetSplit.Test),
    });

    /// <summary>The images file name of a split: <c>train-images-idx3-ubyte.gz</c> or <c>t10k-images-idx3-ubyte.gz</c>.</summary>
    /// <param name="split">The split.</param>
    /// <returns>The file name.</returns>
    public static string ImagesFileName(DatasetSplit split) => $"{Prefix(split)}-images-idx3-ubyte.gz";

    /// <summary>The labels file name of a split: <c>train-labels-idx1-ubyte.gz</c> or <c>t10k-labels-idx1-ubyte.gz</c>.</summary>
    /// <param name="split">The split.</param>
    /// <returns>The file name.</returns>
    public static string LabelsFileName(DatasetSplit split) => $"{Prefix(split)}-labels-idx1-ubyte.gz";

    /// <summary>Path of a dataset's images file for a split under a data directory: <c>DIR/NAME/FILE</c>.</summary>
    /// <param name="dataDirectory">The data directory (holding <c>mnist/</c> and <c>fashion-mnist/</c>).</param>
    /// <param name="dataset"><c>mnist</c> or <c>fashion-mnist</c>.</param>
    /// <param name="split">The split.</param>
    /// <returns>The path (the file need not exist).</returns>
    public static string ImagesPath(string dataDirectory, string dataset, DatasetSplit split) =>
        Path.Combine(dataDirectory, Check(dataset), ImagesFileName(split));

    /// <summary>Path of a dataset's labels file for a split under a data directory: <c>DIR/NAME/FILE</c>.</summary>
    /// <param name="dataDirectory">The data directory (holding <c>mnist/</c> and <c>fashion-mnist/</c>).</param>
    /// <param name="dataset"><c>mnist</c> or <c>fashion-mnist</c>.</param>
    /// <param name="split">The split.</param>
    /// <returns>The path (the file need not exist).</returns>
    public static string LabelsPath(string dataDirectory, string dataset, DatasetSplit split) =>
        Path.Combine(dataDirectory, Check(dataset), LabelsFileName(split));

    /// <summary>The published MD5 sum (lower-case hex) of one of a dataset's four <c>.gz</c> files.</summary>
    /// <param name="dataset"><c>mnist</c> or <c>fashion-mnist</c>.</param>
    /// <param name="fileName">One of <see cref="FileNames"/>.</param>
    /// <returns>32 lower-case hexadecimal digits.</returns>
    /// <exception cref="ArgumentException">Unknown dataset or file name.</exception>
    public static string ExpectedMd5(string dataset, string fileName) =>
        Md5Table.TryGetValue((Check(dataset), fileName), out var md5)
            ? md5
            : throw new ArgumentException($"Unknown file '{fileName}'; expected one of: {string.Join(", ", FileNames)}.", nameof(fileName));

    /// <summary>The base URLs serving a dataset's files, in the order they are tried.</summary>
    /// <param name="dataset"><c>mnist</c> or <c>fashion-mnist</c>.</param>
    /// <returns>Base URLs ending in <c>/</c>; a file's URL is the base followed by its name.</returns>
    /// <exception cref="ArgumentException">Unknown dataset name.</exception>
    public static IReadOnlyList<string> Mirrors(string dataset) => Array.AsReadOnly(MirrorTable[Check(dataset)]);

    /// <summary>Checks a dataset name, returning it in canonical (lower-case) form.</summary>
    /// <param name="dataset">The candidate name (case-insensitive).</param>
    /// <returns><c>mnist</c> or <c>fashion-mnist</c>.</returns>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Names"/>.</exception>
    public static string Check(string dataset)
    {
        foreach (var name in AllNames)
        {
            if (string.Equals(dataset?.Trim(), name, StringComparison.OrdinalIgnoreCase))
            {
                return name;
            }
        }
        throw new ArgumentException($"Unknown source dataset '{dataset}'; expected one of: {string.Join(", ", AllNames)}.", nameof(dataset));
    }

    private static string Prefix(DatasetSplit split) => split switch
    {
        DatasetSplit.Train => "train",
        DatasetSplit.Test => "t10k",
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "Unknown split."),
    };
}
