namespace GradientSurgery.Data;

/// <summary>
/// Reads the binary version of CIFAR-100 (Krizhevsky, 2009; <c>cifar-100-binary.tar.gz</c>) and arranges it as 20
/// five-way classification tasks, one per coarse class (CIFAR-MTL of Rosenbaum et al., ICLR 2018).
/// </summary>
/// <remarks>
/// <para>Layout of a data directory: <c>DIR/cifar100/cifar-100-binary/</c> holding <c>train.bin</c>,
/// <c>test.bin</c>, <c>coarse_label_names.txt</c> and <c>fine_label_names.txt</c>, which is what extracting the
/// official archive into <c>DIR/cifar100/</c> produces.</para>
/// <para>Each record of a <c>.bin</c> file is 3074 bytes: the coarse label (1 byte), the fine label (1 byte) and
/// 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each 32 × 32 row-major). A record whose coarse label is not
/// the one <see cref="CoarseOfFine"/> assigns to its fine label is refused: the map is a fixed fact of the data set,
/// so a disagreement means a corrupt or foreign file.</para>
/// </remarks>
public static class Cifar100Mtl
{
    /// <summary>Folder name under a data directory: <c>cifar100</c>.</summary>
    public const string DatasetName = "cifar100";

    /// <summary>The folder the official archive extracts to: <c>cifar-100-binary</c>.</summary>
    public const string ExtractedFolder = "cifar-100-binary";

    /// <summary>Number of tasks (coarse classes): 20.</summary>
    public const int TaskCount = 20;

    /// <summary>Classes per task (fine classes per coarse class): 5.</summary>
    public const int ClassesPerTask = 5;

    /// <summary>Number of fine classes: 100.</summary>
    public const int FineClassCount = 100;

    /// <summary>Side of every image: 32.</summary>
    public const int ImageSide = 32;

    /// <summary>Bytes per image: 3 × 32 × 32 = 3072.</summary>
    public const int PixelsPerImage = 3 * ImageSide * ImageSide;

    /// <summary>Bytes per record: coarse label, fine label, pixels = 3074.</summary>
    public const int RecordBytes = 2 + PixelsPerImage;

    /// <summary>The four files of the extracted archive that the loader needs or checks.</summary>
    public static IReadOnlyList<string> FileNames { get; } = Array.AsReadOnly(new[] { "train.bin", "test.bin", "coarse_label_names.txt", "fine_label_names.txt" });

    // The official fine → coarse map (index: fine label 0..99, value: coarse label 0..19), as in the meta file of
    // the Python version and the coarse byte of every record of the binary version. Checked against the
    // "sparse2coarse" table that several public CIFAR-100 coarse-label loaders share (e.g. the one credited to
    // ryanchankh/cifar100coarse): identical, and each coarse class has exactly 5 fine classes (a test asserts it).
    private static readonly byte[] CoarseTable =
    [
        4, 1, 14, 8, 0, 6, 7, 7, 18, 3,
        3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
        6, 11, 5, 10, 7, 6, 13, 15, 3, 15,
        0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
        5, 19, 8, 8, 15, 13, 14, 17, 18, 10,
        16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
        10, 3, 2, 12, 12, 16, 12, 1, 9, 19,
        2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
        16, 19, 2, 4, 6, 19, 5, 5, 8, 19,
        18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
    ];

    // Rank of each fine class among the fine classes of its coarse class, ascending: the label within the task.
    private static readonly byte[] RankTable = BuildRanks();

    /// <summary>The coarse class (task) of each fine class: 100 entries, each in 0..19.</summary>
    public static IReadOnlyList<byte> CoarseOfFine { get; } = Array.AsReadOnly(CoarseTable);

    /// <summary>The fine classes of one task, ascending; their positions are the task's labels 0..4.</summary>
    /// <param name="task">Coarse class, 0..19.</param>
    /// <returns>Five fine labels in ascending order.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="task"/> is not in 0..19.</exception>
    public static IReadOnlyList<int> FineClassesOfTask(int task)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(task);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(task, TaskCount);
        return Enumerable.Range(0, FineClassCount).Where(fine => CoarseTable[fine] == task).ToArray();
    }

    /// <summary>The label within its task (0..4) of a fine class.</summary>
    /// <param name="fine">Fine label, 0..99.</param>
    /// <returns>The rank of <paramref name="fine"/> among the fine classes of its coarse class.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fine"/> is not in 0..99.</exception>
    public static int TaskLabelOfFine(int fine)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fine);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(fine, FineClassCount);
        return RankTable[fine];
    }

    /// <summary>The folder holding the extracted files: <c>DIR/cifar100/cifar-100-binary</c>.</summary>
    /// <param name="dataDirectory">The data directory.</param>
    /// <returns>The path (it need not exist).</returns>
    public static string Folder(string dataDirectory) => Path.Combine(dataDirectory, DatasetName, ExtractedFolder);

    /// <summary>The records file of a split: <c>DIR/cifar100/cifar-100-binary/train.bin</c> or <c>test.bin</c>.</summary>
    /// <param name="dataDirectory">The data directory.</param>
    /// <param name="split">The split.</param>
    /// <returns>The path (it need not exist).</returns>
    public static string RecordsPath(string dataDirectory, DatasetSplit split) => Path.Combine(Folder(dataDirectory), split switch
    {
        DatasetSplit.Train => "train.bin",
        DatasetSplit.Test => "test.bin",
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "Unknown split."),
    });

    /// <summary>Loads one split from a data directory laid out as described on <see cref="Cifar100Mtl"/>.</summary>
    /// <param name="dataDirectory">The data directory (holding <c>cifar100/</c>).</param>
    /// <param name="split">Train (50,000 records) or test (10,000).</param>
    /// <returns>The split as 20 tasks.</returns>
    /// <exception cref="FileNotFoundException">The records file is missing; the message says how to get it and where to put it.</exception>
    /// <exception cref="InvalidDataException">The file is malformed; the message names it, the record and the byte offset.</exception>
    public static Cifar100MtlData Load(string dataDirectory, DatasetSplit split)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        var path = RecordsPath(dataDirectory, split);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(MissingMessage(dataDirectory, path), path);
        }
        return ReadRecords(path);
    }

    /// <summary>What to do when a file of the extracted archive is missing: where it goes and how to get it.</summary>
    /// <param name="dataDirectory">The data directory.</param>
    /// <param name="missingPath">The missing file.</param>
    /// <returns>One sentence naming the file, the download command and the official page.</returns>
    public static string MissingMessage(string dataDirectory, string missingPath) =>
        $"{missingPath} is missing; get it with 'gsurg data download {DatasetName} --to {dataDirectory}' or extract cifar-100-binary.tar.gz "
        + $"from https://www.cs.toronto.edu/~kriz/cifar.html into {Path.Combine(dataDirectory, DatasetName)}{Path.DirectorySeparatorChar}.";

    /// <summary>Reads a <c>train.bin</c> or <c>test.bin</c> file of the binary distribution.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The records as 20 tasks.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The length is not a positive multiple of 3074, a label is out of range, or a coarse label disagrees with the official map; the message names the file, record and byte offset.</exception>
    public static Cifar100MtlData ReadRecords(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var length = file.Length;
        if (length == 0 || length % RecordBytes != 0)
        {
            var whole = length / RecordBytes;
            throw Invalid(path, $"length {length} bytes is not a positive multiple of the {RecordBytes}-byte record: {whole} whole records, then {length - whole * RecordBytes} stray bytes from byte offset {whole * RecordBytes}; the file is truncated or not a CIFAR-100 binary file");
        }
        if (length / RecordBytes * PixelsPerImage > Array.MaxLength)
        {
            throw Invalid(path, $"{length / RecordBytes} records are more than one array can hold");
        }
        var count = (int)(length / RecordBytes);
        var images = new byte[count * PixelsPerImage];
        var tasks = new byte[count];
        var labels = new byte[count];
        var fines = new byte[count];
        var record = new byte[RecordBytes];
        for (var i = 0; i < count; i++)
        {
            var offset = (long)i * RecordBytes;
            var read = file.ReadAtLeast(record, RecordBytes, throwOnEndOfStream: false);
            if (read < RecordBytes)
            {
                // Only when the file shrinks while being read: the length was checked above.
                throw Invalid(path, $"record {i} ends after {read} bytes at byte offset {offset + read}, expected {RecordBytes}");
            }
            var coarse = record[0];
            var fine = record[1];
            if (coarse >= TaskCount)
            {
                throw Invalid(path, $"record {i}: coarse label {coarse} at byte offset {offset} is not in 0..{TaskCount - 1}");
            }
            if (fine >= FineClassCount)
            {
                throw Invalid(path, $"record {i}: fine label {fine} at byte offset {offset + 1} is not in 0..{FineClassCount - 1}");
            }
            if (CoarseTable[fine] != coarse)
            {
                throw Invalid(path, $"record {i}: coarse label {coarse} at byte offset {offset} disagrees with fine label {fine} at byte offset {offset + 1}, whose coarse class is {CoarseTable[fine]} in the official CIFAR-100 map");
            }
            tasks[i] = coarse;
            fines[i] = fine;
            labels[i] = RankTable[fine];
            record.AsSpan(2).CopyTo(images.AsSpan(i * PixelsPerImage));
        }
        return new Cifar100MtlData(path, images, tasks, labels, fines);
    }

    private static byte[] BuildRanks()
    {
        var ranks = new byte[FineClassCount];
        var seen = new byte[TaskCount];
        for (var fine = 0; fine < FineClassCount; fine++)
        {
            ranks[fine] = seen[CoarseTable[fine]]++;
        }
        return ranks;
    }

    private static InvalidDataException Invalid(string path, string problem) => new($"'{path}': {problem}.");
}
