using System.Net;
using System.Security.Cryptography;
using GradientSurgery.Data;

namespace GradientSurgery.Tests.Data;

/// <summary>Every test serves bytes through a fake <see cref="HttpMessageHandler"/>: none touches the network.</summary>
public sealed class DatasetDownloaderTests : IDisposable
{
    private static readonly string[] Mirrors = ["https://first.invalid/m/", "https://second.invalid/m/"];

    private readonly TempDirectory _temp = new();
    private readonly Dictionary<string, byte[]> _files;

    public DatasetDownloaderTests() =>
        _files = SourceDatasets.FileNames.Select((name, i) => (name, bytes: Enumerable.Range(0, 3000 + i).Select(b => (byte)(b * (i + 7))).ToArray()))
            .ToDictionary(file => file.name, file => file.bytes);

    public void Dispose() => _temp.Dispose();

    private string Md5(string fileName) => Convert.ToHexStringLower(MD5.HashData(_files[fileName]));

    private string MnistDirectory => Path.Combine(_temp.Path, "mnist");

    private Task<IReadOnlyList<DownloadedFile>> Download(
        FakeHandler handler, ListProgress? progress = null, TimeSpan? idle = null, CancellationToken cancellationToken = default) =>
        DatasetDownloader.DownloadFromAsync("mnist", _temp.Path, Mirrors, Md5, idle ?? TimeSpan.FromSeconds(30), handler, progress, cancellationToken);

    private static HttpResponseMessage Ok(byte[] bytes) => new(HttpStatusCode.OK) { Content = new ByteArrayContent(bytes) };

    private FakeHandler Serving(string mirror) => new((request, _) =>
    {
        var url = request.RequestUri!.ToString();
        return Task.FromResult(url.StartsWith(mirror, StringComparison.Ordinal) && _files.TryGetValue(url[mirror.Length..], out var bytes)
            ? Ok(bytes)
            : new HttpResponseMessage(HttpStatusCode.NotFound));
    });

    private void AssertNoPartialFiles() =>
        Assert.DoesNotContain(Directory.GetFiles(_temp.Path, "*", SearchOption.AllDirectories), path => path.EndsWith(".part", StringComparison.Ordinal));

    [Fact]
    public async Task GoodBytesAreVerifiedAndMovedIntoPlace()
    {
        var handler = Serving(Mirrors[0]);
        var progress = new ListProgress();
        var results = await Download(handler, progress);

        Assert.Equal(SourceDatasets.FileNames, results.Select(result => result.FileName));
        foreach (var result in results)
        {
            Assert.Equal(Path.Combine(MnistDirectory, result.FileName), result.Path);
            Assert.Equal(Mirrors[0] + result.FileName, result.Url);
            Assert.False(result.AlreadyPresent);
            Assert.Equal(Md5(result.FileName), result.Md5);
            Assert.Equal(_files[result.FileName], File.ReadAllBytes(result.Path));
        }
        Assert.Equal(SourceDatasets.FileNames.Select(name => Mirrors[0] + name), handler.Requests);
        Assert.All(handler.UserAgents, agent => Assert.StartsWith("GradientSurgery/", agent, StringComparison.Ordinal));
        Assert.Equal(4, progress.Reports.Count(report => report.Stage == DownloadStage.Completed));
        Assert.Contains(progress.Reports, report => report.Stage == DownloadStage.Downloading && report.BytesReceived == 3000 && report.TotalBytes == 3000);
        AssertNoPartialFiles();
    }

    [Fact]
    public async Task FilesAlreadyPresentWithTheRightSumAreSkippedAndWrongOnesReplaced()
    {
        await Download(Serving(Mirrors[0]));
        var damaged = Path.Combine(MnistDirectory, SourceDatasets.FileNames[2]);
        File.WriteAllBytes(damaged, [1, 2, 3]);

        var handler = Serving(Mirrors[0]);
        var progress = new ListProgress();
        var results = await Download(handler, progress);

        Assert.Equal([Mirrors[0] + SourceDatasets.FileNames[2]], handler.Requests);
        Assert.Equal([true, true, false, true], results.Select(result => result.AlreadyPresent));
        Assert.Equal(_files[SourceDatasets.FileNames[2]], File.ReadAllBytes(damaged));
        Assert.Equal(3, progress.Reports.Count(report => report.Stage == DownloadStage.AlreadyPresent));
    }

    [Fact]
    public async Task AFailingMirrorFallsBackToTheNext()
    {
        var handler = Serving(Mirrors[1]);
        var progress = new ListProgress();
        var results = await Download(handler, progress);

        Assert.All(results, result => Assert.StartsWith(Mirrors[1], result.Url, StringComparison.Ordinal));
        Assert.Equal(8, handler.Requests.Count);
        var failure = Assert.Single(progress.Reports, report => report.Stage == DownloadStage.MirrorFailed && report.FileName == SourceDatasets.FileNames[0]);
        Assert.Equal(Mirrors[0] + SourceDatasets.FileNames[0], failure.Url);
        Assert.Contains("HTTP 404", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongMd5IsRejectedAndNothingIsLeftBehind()
    {
        var handler = new FakeHandler((_, _) => Task.FromResult(Ok([9, 9, 9])));
        var error = await Assert.ThrowsAsync<DatasetDownloadException>(() => Download(handler));

        var first = SourceDatasets.FileNames[0];
        Assert.False(error.SeemsOffline);
        Assert.Equal(first, error.FileName);
        Assert.Equal(Mirrors.Select(mirror => mirror + first), error.Urls);
        Assert.Contains("MD5", error.Message, StringComparison.Ordinal);
        Assert.Contains(Md5(first), error.Message, StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexStringLower(MD5.HashData(new byte[] { 9, 9, 9 })), error.Message, StringComparison.Ordinal);
        Assert.Contains(MnistDirectory, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(MnistDirectory, first)));
        AssertNoPartialFiles();
    }

    [Fact]
    public async Task NetworkFailureSaysTheMachineSeemsOfflineAndWhereToPutTheFiles()
    {
        var handler = new FakeHandler((_, _) => throw new HttpRequestException("Name or service not known (first.invalid:443)"));
        var error = await Assert.ThrowsAsync<DatasetDownloadException>(() => Download(handler));

        Assert.True(error.SeemsOffline);
        Assert.IsType<HttpRequestException>(error.InnerException);
        Assert.Contains("offline", error.Message, StringComparison.Ordinal);
        Assert.Contains(Mirrors[0] + SourceDatasets.FileNames[0], error.Message, StringComparison.Ordinal);
        Assert.Contains(Mirrors[1] + SourceDatasets.FileNames[0], error.Message, StringComparison.Ordinal);
        Assert.Contains($"in '{MnistDirectory}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Name or service not known", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, handler.Requests.Count); // gives up on the first file instead of failing four times
        AssertNoPartialFiles();
    }

    [Fact]
    public async Task ATransferCutShortIsANetworkFailure()
    {
        var handler = new FakeHandler((_, _) =>
        {
            var response = Ok([1, 2, 3]);
            response.Content.Headers.ContentLength = 10;
            return Task.FromResult(response);
        });
        var error = await Assert.ThrowsAsync<DatasetDownloadException>(() => Download(handler));
        Assert.True(error.SeemsOffline);
        Assert.Contains("announced 10 bytes but the transfer ended after 3", error.Message, StringComparison.Ordinal);
        AssertNoPartialFiles();
    }

    [Fact]
    public async Task AStalledTransferIsAbandonedAfterTheIdleTimeout()
    {
        var handler = new FakeHandler((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new StallingStream()) }));
        var error = await Assert.ThrowsAsync<DatasetDownloadException>(() => Download(handler, idle: TimeSpan.FromMilliseconds(100)));
        Assert.True(error.SeemsOffline);
        Assert.Contains("no data received for 0.1 s", error.Message, StringComparison.Ordinal);
        AssertNoPartialFiles();
    }

    [Fact]
    public async Task CancellationPropagatesAndRemovesThePartialFile()
    {
        using var cancel = new CancellationTokenSource();
        var handler = new FakeHandler((_, _) =>
        {
            cancel.CancelAfter(TimeSpan.FromMilliseconds(50));
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new StallingStream()) });
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Download(handler, cancellationToken: cancel.Token));
        Assert.Single(handler.Requests);
        AssertNoPartialFiles();
        Assert.Empty(Directory.GetFiles(MnistDirectory));
    }

    [Fact]
    public async Task PublicEntryPointUsesTheTorchvisionMirrorsAndPublishedSums()
    {
        var handler = new FakeHandler((_, _) => throw new HttpRequestException("offline"));
        var mnist = await Assert.ThrowsAsync<DatasetDownloadException>(() => DatasetDownloader.DownloadAsync("MNIST", _temp.Path, handler));
        Assert.Equal(
            ["https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz", "http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz"],
            handler.Requests);
        Assert.Contains(Path.Combine(_temp.Path, "mnist"), mnist.Message, StringComparison.Ordinal);

        var fashion = new FakeHandler((_, _) => Task.FromResult(Ok([0])));
        var wrong = await Assert.ThrowsAsync<DatasetDownloadException>(() => DatasetDownloader.DownloadAsync("fashion-mnist", _temp.Path, fashion));
        Assert.Equal(["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz"], fashion.Requests);
        Assert.Contains("8d4fb7e6c68d591d4c3dfef9ec88bf0d", wrong.Message, StringComparison.Ordinal);
        Assert.False(wrong.SeemsOffline);
    }

    [Fact]
    public void PublishedSumsAreHardCoded()
    {
        Assert.Equal("f68b3c2dcbeaaa9fbdd348bbdeb94873", SourceDatasets.ExpectedMd5("mnist", "train-images-idx3-ubyte.gz"));
        Assert.Equal("ec29112dd5afa0611ce80d1b7f02629c", SourceDatasets.ExpectedMd5("mnist", "t10k-labels-idx1-ubyte.gz"));
        Assert.Equal("bb300cfdad3c16e7a12a480ee83cd310", SourceDatasets.ExpectedMd5("fashion-mnist", "t10k-labels-idx1-ubyte.gz"));
        Assert.Throws<ArgumentException>(() => SourceDatasets.ExpectedMd5("mnist", "other.gz"));
    }

    [Fact]
    public async Task UnknownDatasetIsRejectedBeforeAnyRequest()
    {
        var handler = Serving(Mirrors[0]);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => DatasetDownloader.DownloadAsync("cifar10", _temp.Path, handler));
        Assert.Contains("mnist, fashion-mnist", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => DatasetDownloader.DownloadAsync("mnist", "", handler));
        Assert.Empty(handler.Requests);
    }

    private sealed class FakeHandler(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> respond) : HttpMessageHandler
    {
        public List<string> Requests { get; } = [];

        public List<string> UserAgents { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (Requests)
            {
                Requests.Add(request.RequestUri!.ToString());
                UserAgents.Add(request.Headers.UserAgent.ToString());
            }
            return respond(request, cancellationToken);
        }
    }

    /// <summary>Collects reports synchronously (Progress&lt;T&gt; would post them later, racing the assertions).</summary>
    private sealed class ListProgress : IProgress<DownloadProgress>
    {
        public List<DownloadProgress> Reports { get; } = [];

        public void Report(DownloadProgress value)
        {
            lock (Reports)
            {
                Reports.Add(value);
            }
        }
    }

    /// <summary>A response body that never delivers a byte until cancelled.</summary>
    private sealed class StallingStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Only asynchronous reads.");

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
