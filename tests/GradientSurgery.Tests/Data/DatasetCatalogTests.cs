using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using GradientSurgery.Cli;
using GradientSurgery.Data;
using GradientSurgery.Tests.Cli;

namespace GradientSurgery.Tests.Data;

/// <summary>The data set registry, the manual instructions, <c>gsurg data download</c> for the data sets a program cannot fetch, and the CIFAR-100 download and extraction on a small generated archive served by a fake handler (no network).</summary>
public sealed class DatasetCatalogTests : IDisposable
{
    private const string Mirror = "https://cifar.invalid/kriz/";

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void TheCatalogKnowsEveryDataSetAndWhichCanBeDownloaded()
    {
        Assert.Equal(["mnist", "fashion-mnist", "cifar100", "celeba", "nyuv2"], DatasetCatalog.Names);
        Assert.Equal("cifar100", DatasetCatalog.Check(" CIFAR100 "));
        Assert.Throws<ArgumentException>(() => DatasetCatalog.Check("imagenet"));
        Assert.True(DatasetCatalog.CanDownload("mnist"));
        Assert.True(DatasetCatalog.CanDownload("cifar100"));
        Assert.False(DatasetCatalog.CanDownload("celeba"));
        Assert.False(DatasetCatalog.CanDownload("nyuv2"));
        Assert.Throws<ArgumentException>(() => DatasetCatalog.ManualInstructions("cifar100", _temp.Path));
        Assert.Equal("https://www.cs.toronto.edu/~kriz/", Cifar100Downloader.BaseUrl);
        Assert.Equal("03b5dce01913d631647c71ecec9e9cb8", Cifar100Downloader.ArchiveMd5);
    }

    [Fact]
    public void CelebAInstructionsNameEveryFileItsChecksumAndPlace()
    {
        var text = string.Join('\n', DatasetCatalog.ManualInstructions("celeba", _temp.Path));
        var celeba = Path.Combine(_temp.Path, "celeba");
        Assert.Contains("https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html", text);
        Assert.Contains($"Anno/list_attr_celeba.txt (MD5 75e246fa4810816ffd6ee81facbd244c) -> {Path.Combine(celeba, "list_attr_celeba.txt")}", text);
        Assert.Contains($"Eval/list_eval_partition.txt (MD5 d32c9cbf5e040fd4025c592c306e6668) -> {Path.Combine(celeba, "list_eval_partition.txt")}", text);
        Assert.Contains("Img/img_align_celeba.zip (MD5 00d2c5bc6d35e252742224ab0c1e8fcb)", text);
        Assert.Contains(Path.Combine(celeba, "img_align_celeba") + Path.DirectorySeparatorChar, text);
    }

    [Fact]
    public void Nyuv2InstructionsNameTheArchiveAndTheLayout()
    {
        var text = string.Join('\n', DatasetCatalog.ManualInstructions("nyuv2", _temp.Path));
        Assert.Contains("https://github.com/lorenmt/mtan", text);
        Assert.Contains("nyuv2.zip", text);
        Assert.Contains(Path.Combine(_temp.Path, "nyuv2", "train") + Path.DirectorySeparatorChar + " holds image/, label/, depth/, normal/ with 0.npy ... 794.npy", text);
        Assert.Contains(Path.Combine(_temp.Path, "nyuv2", "val") + Path.DirectorySeparatorChar + " holds image/, label/, depth/, normal/ with 0.npy ... 653.npy", text);
    }

    [Theory]
    [InlineData("celeba", "celeba cannot be downloaded by a program (Google Drive)")]
    [InlineData("nyuv2", "nyuv2 cannot be downloaded by a program (Dropbox)")]
    public void DownloadingAManualDataSetPrintsTheStepsAndExitsWithCode2AndOneLine(string dataset, string reason)
    {
        var (code, output, error) = GsurgConsole.Run("data", "download", dataset, "--to", _temp.Path);

        Assert.Equal(GsurgApp.RunFailure, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("gsurg: " + reason, lines[0]);
        Assert.Contains(Path.Combine(_temp.Path, dataset), lines[0]);
        foreach (var line in DatasetCatalog.ManualInstructions(dataset, _temp.Path))
        {
            Assert.Contains(line.Split(' ')[^1], output);
        }
        Assert.Empty(Directory.GetFileSystemEntries(_temp.Path));
    }

    [Fact]
    public void AnUnknownDataSetIsAUsageError()
    {
        var (code, _, error) = GsurgConsole.Run("data", "download", "imagenet", "--to", _temp.Path);
        Assert.Equal(GsurgApp.UsageError, code);
        Assert.Contains("imagenet", error);
    }

    [Fact]
    public async Task TheCifar100ArchiveIsVerifiedExtractedAndLoadable()
    {
        var archive = CifarArchive();
        var handler = new Serving(archive);

        var folder = await Download(handler, Md5(archive));

        Assert.Equal(Cifar100Mtl.Folder(_temp.Path), folder);
        Assert.Equal([Mirror + "cifar-100-binary.tar.gz"], handler.Requests);
        Assert.Equal(archive, File.ReadAllBytes(Path.Combine(_temp.Path, "cifar100", "cifar-100-binary.tar.gz")));
        var train = Cifar100Mtl.Load(_temp.Path, DatasetSplit.Train);
        Assert.Equal(new byte[] { 0, 13 }, train.Tasks);
        Assert.Equal(new byte[] { 1, 4 }, train.Labels);
        Assert.Equal(1, Cifar100Mtl.Load(_temp.Path, DatasetSplit.Test).Count);
        Assert.Empty(Directory.GetFiles(_temp.Path, "*.part", SearchOption.AllDirectories));

        // Present with the right MD5: not fetched again, extracted again.
        var again = new Serving(archive);
        await Download(again, Md5(archive));
        Assert.Empty(again.Requests);
    }

    [Fact]
    public async Task AnArchiveWithTheWrongMd5IsNeitherKeptNorExtracted()
    {
        var error = await Assert.ThrowsAsync<DatasetDownloadException>(() => Download(new Serving(CifarArchive()), new string('0', 32)));

        Assert.Contains("not the published", error.Message);
        Assert.Contains($"Then extract it there (tar xzf cifar-100-binary.tar.gz), which creates {Cifar100Mtl.Folder(_temp.Path)}", error.Message);
        Assert.False(Directory.Exists(Cifar100Mtl.Folder(_temp.Path)));
        Assert.False(File.Exists(Path.Combine(_temp.Path, "cifar100", "cifar-100-binary.tar.gz")));
    }

    [Fact]
    public void AnArchiveWithoutTheExpectedFilesIsRefused()
    {
        var archive = _temp.File("partial.tar.gz");
        File.WriteAllBytes(archive, TarGz(("cifar-100-binary/train.bin", new byte[Cifar100Mtl.RecordBytes])));

        var error = Assert.Throws<InvalidDataException>(() => Cifar100Downloader.ExtractArchive(archive, _temp.Path));

        Assert.Contains(archive, error.Message);
        Assert.Contains(Path.Combine(Cifar100Mtl.Folder(_temp.Path), "test.bin"), error.Message);
        Assert.Contains("not the CIFAR-100 binary archive", error.Message);
    }

    [Fact]
    public void EntriesThatEscapeTheDestinationOrAreLinksAreRefused()
    {
        var escaping = _temp.File("escaping.tar.gz");
        File.WriteAllBytes(escaping, TarGz(("../evil.txt", [1, 2, 3])));
        var outside = Assert.Throws<InvalidDataException>(() => TarGzExtractor.Extract(escaping, Path.Combine(_temp.Path, "out")));
        Assert.Contains("'../evil.txt'", outside.Message);
        Assert.False(File.Exists(Path.Combine(_temp.Path, "evil.txt")));

        var linked = _temp.File("linked.tar.gz");
        using (var memory = new MemoryStream())
        {
            using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
            using (var writer = new TarWriter(gzip, TarEntryFormat.Ustar))
            {
                writer.WriteEntry(new UstarTarEntry(TarEntryType.SymbolicLink, "cifar-100-binary/train.bin") { LinkName = "/etc/passwd" });
            }
            File.WriteAllBytes(linked, memory.ToArray());
        }
        var link = Assert.Throws<InvalidDataException>(() => TarGzExtractor.Extract(linked, Path.Combine(_temp.Path, "out")));
        Assert.Contains("SymbolicLink", link.Message);
    }

    [Fact]
    public void ACorruptArchiveIsNamed()
    {
        var bytes = CifarArchive();
        var corrupt = _temp.File("corrupt.tar.gz");
        File.WriteAllBytes(corrupt, [.. bytes[..20], .. Enumerable.Repeat((byte)0xAB, 200)]);

        var error = Assert.Throws<InvalidDataException>(() => TarGzExtractor.Extract(corrupt, Path.Combine(_temp.Path, "out")));

        Assert.Contains(corrupt, error.Message);
        Assert.Contains("corrupt or truncated", error.Message);
    }

    private Task<string> Download(HttpMessageHandler handler, string md5) =>
        Cifar100Downloader.DownloadFromAsync(_temp.Path, [Mirror], md5, TimeSpan.FromSeconds(30), handler, null, CancellationToken.None);

    private static string Md5(byte[] bytes) => Convert.ToHexStringLower(MD5.HashData(bytes));

    /// <summary>A miniature of the official archive: two training records (dolphin, worm), one test record, the two name files.</summary>
    private static byte[] CifarArchive()
    {
        static byte[] Record(int fine)
        {
            var record = new byte[Cifar100Mtl.RecordBytes];
            record[0] = Cifar100Mtl.CoarseOfFine[fine];
            record[1] = (byte)fine;
            record.AsSpan(2).Fill((byte)fine);
            return record;
        }
        return TarGz(
            ("cifar-100-binary/", null),
            ("cifar-100-binary/train.bin", [.. Record(30), .. Record(99)]),
            ("cifar-100-binary/test.bin", Record(0)),
            ("cifar-100-binary/coarse_label_names.txt", "aquatic_mammals\n"u8.ToArray()),
            ("cifar-100-binary/fine_label_names.txt", "apple\n"u8.ToArray()));
    }

    private static byte[] TarGz(params (string Name, byte[]? Data)[] entries)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        using (var writer = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            foreach (var (name, data) in entries)
            {
                var entry = new PaxTarEntry(data is null ? TarEntryType.Directory : TarEntryType.RegularFile, name);
                if (data is not null)
                {
                    entry.DataStream = new MemoryStream(data);
                }
                writer.WriteEntry(entry);
            }
        }
        return memory.ToArray();
    }

    private sealed class Serving(byte[] archive) : HttpMessageHandler
    {
        public List<string> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var url = request.RequestUri!.ToString();
            lock (Requests)
            {
                Requests.Add(url);
            }
            return Task.FromResult(url == Mirror + Cifar100Downloader.ArchiveName
                ? new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(archive) }
                : new HttpResponseMessage(HttpStatusCode.NotFound));
        }
    }
}
