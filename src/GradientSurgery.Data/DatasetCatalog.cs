namespace GradientSurgery.Data;

/// <summary>
/// Every data set the library loads, by the name used on the command line and as its folder under a data directory,
/// with whether a program can download it and, if not, what to place where by hand.
/// </summary>
/// <remarks>
/// Layout of a data directory <c>DIR</c>:
/// <list type="bullet">
/// <item><c>DIR/mnist/</c>, <c>DIR/fashion-mnist/</c>: the four IDX <c>.gz</c> files each (<see cref="SourceDatasets"/>).</item>
/// <item><c>DIR/cifar100/cifar-100-binary/</c>: <c>train.bin</c>, <c>test.bin</c>, <c>coarse_label_names.txt</c>,
/// <c>fine_label_names.txt</c>; the downloaded archive stays in <c>DIR/cifar100/</c> (<see cref="Cifar100Mtl"/>).</item>
/// <item><c>DIR/celeba/</c>: <c>list_attr_celeba.txt</c>, <c>list_eval_partition.txt</c>, <c>img_align_celeba/*.jpg</c>
/// and the decoded-split caches (<see cref="CelebADataset"/>).</item>
/// <item><c>DIR/nyuv2/train/</c>, <c>DIR/nyuv2/val/</c>: <c>image/</c>, <c>label/</c>, <c>depth/</c>, <c>normal/</c>
/// with <c>0.npy</c>, <c>1.npy</c>, … (<see cref="Nyuv2Dataset"/>).</item>
/// </list>
/// </remarks>
public static class DatasetCatalog
{
    private static readonly string[] AllNames =
        [SourceDatasets.Mnist, SourceDatasets.FashionMnist, Cifar100Mtl.DatasetName, CelebADataset.DatasetName, Nyuv2Dataset.DatasetName];

    /// <summary>All data set names: <c>mnist</c>, <c>fashion-mnist</c>, <c>cifar100</c>, <c>celeba</c>, <c>nyuv2</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = Array.AsReadOnly(AllNames);

    /// <summary>Normalises a data set name (case-insensitive, surrounding space ignored).</summary>
    /// <param name="dataset">The candidate name.</param>
    /// <returns>One of <see cref="Names"/>.</returns>
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
        throw new ArgumentException($"Unknown data set '{dataset}'; expected one of: {string.Join(", ", AllNames)}.", nameof(dataset));
    }

    /// <summary>Whether a program can download the data set from its official location (with a checksum): true for mnist, fashion-mnist and cifar100.</summary>
    /// <param name="dataset">A name from <see cref="Names"/>.</param>
    /// <returns>Whether <c>gsurg data download</c> fetches it.</returns>
    public static bool CanDownload(string dataset) => Check(dataset) is not (CelebADataset.DatasetName or Nyuv2Dataset.DatasetName);

    /// <summary>For a data set that must be fetched by hand, the steps: which files, from which official page, placed where.</summary>
    /// <param name="dataset"><c>celeba</c> or <c>nyuv2</c>.</param>
    /// <param name="dataDirectory">The data directory the files should go to.</param>
    /// <returns>Lines of instructions.</returns>
    /// <exception cref="ArgumentException">The data set can be downloaded by a program, or is unknown.</exception>
    public static IReadOnlyList<string> ManualInstructions(string dataset, string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        var sep = Path.DirectorySeparatorChar;
        switch (Check(dataset))
        {
            case CelebADataset.DatasetName:
                var celeba = CelebADataset.Folder(dataDirectory);
                return
                [
                    $"CelebA is published on Google Drive, which a program cannot download reliably. From the official page {CelebADataset.OfficialPage} follow the Google Drive link and download:",
                    .. CelebADataset.PublishedFiles.Select(f => $"  {f.DriveLocation} (MD5 {f.Md5}) -> {Path.Combine(celeba, f.Placement)}"),
                    $"Unzip img_align_celeba.zip in {celeba}{sep} so that the 202,599 JPEGs are in {Path.Combine(celeba, CelebADataset.ImagesFolderName)}{sep} (000001.jpg ...).",
                ];
            case Nyuv2Dataset.DatasetName:
                var nyu = Path.Combine(dataDirectory, Nyuv2Dataset.DatasetName);
                return
                [
                    $"NYUv2 as preprocessed by MTAN (Liu, Johns and Davison, CVPR 2019) is shared on Dropbox, which a program cannot download reliably and which publishes no checksum.",
                    $"From the README of {Nyuv2Dataset.OfficialPage} download nyuv2.zip ({Nyuv2Dataset.ArchiveUrl}) and unzip it in {dataDirectory}{sep}, so that:",
                    $"  {Path.Combine(nyu, "train")}{sep} holds image/, label/, depth/, normal/ with 0.npy ... 794.npy (795 images)",
                    $"  {Path.Combine(nyu, "val")}{sep} holds image/, label/, depth/, normal/ with 0.npy ... 653.npy (654 images)",
                ];
            default:
                throw new ArgumentException($"'{dataset}' is downloaded with 'gsurg data download {Check(dataset)}'; it needs no manual steps.", nameof(dataset));
        }
    }

    /// <summary>One line for a data set that must be fetched by hand: what goes where, from which page.</summary>
    /// <param name="dataset"><c>celeba</c> or <c>nyuv2</c>.</param>
    /// <param name="dataDirectory">The data directory.</param>
    /// <returns>A single line.</returns>
    /// <exception cref="ArgumentException">The data set can be downloaded by a program, or is unknown.</exception>
    public static string ManualSummary(string dataset, string dataDirectory)
    {
        var sep = Path.DirectorySeparatorChar;
        return Check(dataset) switch
        {
            CelebADataset.DatasetName =>
                $"celeba cannot be downloaded by a program (Google Drive): from {CelebADataset.OfficialPage} get Anno/list_attr_celeba.txt, Eval/list_eval_partition.txt and Img/img_align_celeba.zip, "
                + $"put the two .txt files in {CelebADataset.Folder(dataDirectory)}{sep} and unzip the images to {Path.Combine(CelebADataset.Folder(dataDirectory), CelebADataset.ImagesFolderName)}{sep}",
            Nyuv2Dataset.DatasetName =>
                $"nyuv2 cannot be downloaded by a program (Dropbox): from the README of {Nyuv2Dataset.OfficialPage} get nyuv2.zip and unzip it in {dataDirectory}{sep} "
                + $"so that {Path.Combine(dataDirectory, Nyuv2Dataset.DatasetName, "train")}{sep} and {Path.Combine(dataDirectory, Nyuv2Dataset.DatasetName, "val")}{sep} hold image/, label/, depth/, normal/",
            var other => throw new ArgumentException($"'{other}' is downloaded with 'gsurg data download {other}'; it needs no manual steps.", nameof(dataset)),
        };
    }
}
