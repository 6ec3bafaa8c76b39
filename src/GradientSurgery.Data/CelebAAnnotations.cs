using System.Globalization;

namespace GradientSurgery.Data;

/// <summary>
/// CelebA's two annotation files, parsed strictly: <c>list_attr_celeba.txt</c> (the 40 binary attributes of every
/// image) and <c>list_eval_partition.txt</c> (the split of every image).
/// </summary>
/// <remarks>
/// <para><c>list_attr_celeba.txt</c>: line 1 is the image count; line 2 the 40 attribute names; then one line per
/// image: its file name and 40 values, each <c>1</c> or <c>-1</c>, separated by one or more spaces.
/// <c>list_eval_partition.txt</c>: one line per image, <c>&lt;file&gt; &lt;0|1|2&gt;</c>. Every image must appear in
/// both files exactly once. Any deviation raises an <see cref="InvalidDataException"/> naming the file, the 1-based
/// line number and the offending token. Windows line ends and a final newline are accepted; blank lines inside are
/// not.</para>
/// </remarks>
public sealed class CelebAAnnotations
{
    /// <summary>Number of attributes (tasks): 40.</summary>
    public const int AttributeCount = 40;

    private CelebAAnnotations(string[] fileNames, string[] attributeNames, byte[] labels, byte[] partitions)
    {
        FileNames = fileNames;
        AttributeNames = attributeNames;
        Labels = labels;
        Partitions = partitions;
    }

    /// <summary>Number of images.</summary>
    public int Count => FileNames.Count;

    /// <summary>Image file names in the order of the attribute file, e.g. <c>000001.jpg</c>.</summary>
    public IReadOnlyList<string> FileNames { get; }

    /// <summary>The 40 attribute names in file order (<c>5_o_Clock_Shadow</c>, <c>Arched_Eyebrows</c>, …).</summary>
    public IReadOnlyList<string> AttributeNames { get; }

    /// <summary>Labels, <see cref="Count"/> × 40, row per image: 1 where the file says <c>1</c>, 0 where it says <c>-1</c>.</summary>
    public byte[] Labels { get; }

    /// <summary>The split of each image (0 train, 1 validation, 2 test), in the order of <see cref="FileNames"/>.</summary>
    public byte[] Partitions { get; }

    /// <summary>Parses the two annotation files.</summary>
    /// <param name="attributesPath">Path of <c>list_attr_celeba.txt</c>.</param>
    /// <param name="partitionPath">Path of <c>list_eval_partition.txt</c>.</param>
    /// <returns>The annotations.</returns>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is malformed or the two disagree; the message names the file, line and token.</exception>
    public static CelebAAnnotations Read(string attributesPath, string partitionPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(attributesPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(partitionPath);
        var (fileNames, attributeNames, labels, lineOf) = ReadAttributes(attributesPath);
        var partitions = ReadPartition(partitionPath, fileNames, lineOf);
        return new CelebAAnnotations(fileNames, attributeNames, labels, partitions);
    }

    private static (string[] FileNames, string[] AttributeNames, byte[] Labels, Dictionary<string, int> Index) ReadAttributes(string path)
    {
        var lines = Lines(path);
        if (lines.Count < 2)
        {
            throw Invalid(path, lines.Count + 1, $"the file ends after {lines.Count} line(s); expected the image count on line 1 and the {AttributeCount} attribute names on line 2");
        }
        var countTokens = Tokens(lines[0]);
        if (countTokens.Length != 1 || !int.TryParse(countTokens[0], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count <= 0)
        {
            throw Invalid(path, 1, $"expected the image count (a positive integer) alone, found '{lines[0].Trim()}'");
        }
        var names = Tokens(lines[1]);
        if (names.Length != AttributeCount)
        {
            throw Invalid(path, 2, $"expected {AttributeCount} attribute names, found {names.Length}{(names.Length > AttributeCount ? $" (first extra token '{names[AttributeCount]}')" : string.Empty)}");
        }
        var duplicateName = names.GroupBy(name => name, StringComparer.Ordinal).FirstOrDefault(group => group.Count() > 1);
        if (duplicateName is not null)
        {
            throw Invalid(path, 2, $"attribute name '{duplicateName.Key}' appears twice");
        }
        var dataLines = lines.Count - 2;
        if (dataLines != count)
        {
            throw Invalid(path, 1, $"the header promises {count} images (token '{countTokens[0]}') but {dataLines} image lines follow (lines 3..{lines.Count})");
        }

        var fileNames = new string[count];
        var labels = new byte[count * AttributeCount];
        var index = new Dictionary<string, int>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var lineNumber = i + 3;
            var tokens = Tokens(lines[i + 2]);
            if (tokens.Length == 0)
            {
                throw Invalid(path, lineNumber, "blank line; expected a file name and 40 values");
            }
            if (tokens.Length != AttributeCount + 1)
            {
                throw Invalid(path, lineNumber, $"expected a file name and {AttributeCount} values, found {tokens.Length - 1} values after '{tokens[0]}'");
            }
            var file = CheckFileName(path, lineNumber, tokens[0]);
            if (!index.TryAdd(file, i))
            {
                throw Invalid(path, lineNumber, $"image '{file}' is listed twice (first on line {index[file] + 3})");
            }
            fileNames[i] = file;
            for (var a = 0; a < AttributeCount; a++)
            {
                labels[i * AttributeCount + a] = tokens[a + 1] switch
                {
                    "1" => 1,
                    "-1" => 0,
                    var other => throw Invalid(path, lineNumber, $"value '{other}' of attribute {a + 1} ({names[a]}) is not 1 or -1"),
                };
            }
        }
        return (fileNames, names, labels, index);
    }

    private static byte[] ReadPartition(string path, string[] fileNames, Dictionary<string, int> index)
    {
        var lines = Lines(path);
        var partitions = new byte[fileNames.Length];
        var seenOnLine = new int[fileNames.Length];
        for (var l = 0; l < lines.Count; l++)
        {
            var lineNumber = l + 1;
            var tokens = Tokens(lines[l]);
            if (tokens.Length != 2)
            {
                throw Invalid(path, lineNumber, tokens.Length == 0
                    ? "blank line; expected '<file> <0|1|2>'"
                    : $"expected '<file> <0|1|2>', found {tokens.Length} tokens ('{string.Join(' ', tokens)}')");
            }
            var file = CheckFileName(path, lineNumber, tokens[0]);
            if (!index.TryGetValue(file, out var i))
            {
                throw Invalid(path, lineNumber, $"image '{file}' is not in the attribute file");
            }
            if (seenOnLine[i] != 0)
            {
                throw Invalid(path, lineNumber, $"image '{file}' is listed twice (first on line {seenOnLine[i]})");
            }
            seenOnLine[i] = lineNumber;
            partitions[i] = tokens[1] switch
            {
                "0" => 0,
                "1" => 1,
                "2" => 2,
                var other => throw Invalid(path, lineNumber, $"partition '{other}' of '{file}' is not 0 (train), 1 (validation) or 2 (test)"),
            };
        }
        for (var i = 0; i < fileNames.Length; i++)
        {
            if (seenOnLine[i] == 0)
            {
                throw Invalid(path, lines.Count, $"image '{fileNames[i]}' (line {i + 3} of the attribute file) has no partition line; the file ends at line {lines.Count}");
            }
        }
        return partitions;
    }

    private static string CheckFileName(string path, int lineNumber, string token)
    {
        // Image names are plain file names inside img_align_celeba/; anything with a path separator or a parent
        // reference would read outside it.
        if (token.Contains('/') || token.Contains('\\') || token is "." or "..")
        {
            throw Invalid(path, lineNumber, $"'{token}' is not a plain image file name");
        }
        return token;
    }

    /// <summary>The lines of a file without line ends; one trailing empty line (a final newline) is dropped.</summary>
    private static List<string> Lines(string path)
    {
        var lines = new List<string>(File.ReadLines(path).Select(line => line.TrimEnd('\r')));
        while (lines.Count > 0 && lines[^1].Trim().Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }
        return lines;
    }

    private static string[] Tokens(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static InvalidDataException Invalid(string path, int line, string problem) => new($"'{path}' line {line}: {problem}.");
}
