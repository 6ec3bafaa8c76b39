using GradientSurgery.Experiments.Supervised;
using GradientSurgery.Models;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Experiments;

public sealed class TrainerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-train-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static ClassificationData RandomData(int count, ulong seed)
    {
        var generator = new Generator(seed);
        return new ClassificationData(
            rand(count, 1, 28, 28, generator: generator),
            [randint(0, 10, count, generator: generator), randint(0, 10, count, generator: generator)]);
    }

    private static TrainingSettings Settings(string method = "pcgrad", int epochs = 2) =>
        new("random", method, epochs, BatchSize: 16, LearningRate: 1e-3, Seed: 11, TrainExamples: 80);

    private static MultiTaskTrainer<MultiLeNet> Trainer() => new(() => new MultiLeNet());

    private static float[][] Weights(string runDirectory)
    {
        using var model = new MultiLeNet();
        model.load(MultiTaskTrainer<MultiLeNet>.ModelPath(runDirectory));
        return [.. model.parameters().Select(p => p.data<float>().ToArray())];
    }

    /// <summary>
    /// An interrupted and resumed run ends with exactly the weights of an uninterrupted one. With 80 examples in
    /// batches of 16 an epoch is 5 steps; the loss weightings run 3 epochs and stop at step 12, in the middle of the
    /// third epoch, the first whose DWA weights are not uniform (they compare epochs 1 and 2), so the checkpoint
    /// must carry DWA's epoch averages and running sums, FAMO's logits and their Adam moments, the log variances of
    /// UW and GradNorm's weights and initial losses (learnable weights together with their moments in the model's
    /// Adam state), and the random generator that FAMO's recomputation draws dropout masks from.
    /// </summary>
    [Theory]
    [InlineData("pcgrad", 2, 7)]
    [InlineData("famo", 3, 12)]
    [InlineData("dwa", 3, 12)]
    [InlineData("uw", 3, 12)]
    [InlineData("gradnorm", 3, 12)]
    public void ResumingAfterAnInterruptionEndsWithTheSameWeights(string method, int epochs, int stopAfter)
    {
        using var train = RandomData(80, 1);
        using var test = RandomData(40, 2);
        var straight = Path.Combine(_directory, "straight");
        var interrupted = Path.Combine(_directory, "interrupted");
        var settings = Settings(method, epochs);

        var full = Trainer().Train(settings, train, test, straight, resume: false);
        var first = Trainer().Train(settings, train, test, interrupted, resume: false, stopAfterSteps: stopAfter);
        var rest = Trainer().Train(settings, train, test, interrupted, resume: true);

        Assert.True(full.Completed);
        Assert.False(first.Completed);
        Assert.Equal(stopAfter, first.Steps);
        Assert.True(rest.Completed);
        Assert.Equal(5 * epochs, rest.Steps);
        Assert.Equal(Weights(straight), Weights(interrupted));
        Assert.Equal(full.History.Select(h => h.TestLoss), rest.History.Select(h => h.TestLoss));
        Assert.Equal(full.History.Select(h => h.TrainLoss), rest.History.Select(h => h.TrainLoss));
        Assert.Equal(File.ReadAllLines(Path.Combine(straight, "metrics.csv")).Length, File.ReadAllLines(Path.Combine(interrupted, "metrics.csv")).Length);
    }

    /// <summary>
    /// A step whose gradients come back non-finite (here: the features' gradient of the 7th step is made NaN, their
    /// value unchanged, as a faulty convolution kernel would) stops the run with one line naming the step, epoch,
    /// batch and checkpoint, and a checkpoint of the state before that batch: resuming it ends with exactly the
    /// weights of a run that never failed. GradVac has its own state (an EMA), and UW takes the loss-weighting path.
    /// </summary>
    [Theory]
    [InlineData("pcgrad", "gradient of task 0 with respect to the shared parameters contains NaN or Inf")]
    [InlineData("gradvac", "gradient of task 0 with respect to the shared parameters contains NaN or Inf")]
    [InlineData("uw", "gradient of the weighted objective with respect to the optimizer's parameter 0 (shape [10, 1, 5, 5]) contains NaN or Inf")]
    public void ANonFiniteGradientStopsWithTheStateBeforeTheBatchAndResumesExactly(string method, string culprit)
    {
        using var train = RandomData(80, 1);
        using var test = RandomData(40, 2);
        var straight = Path.Combine(_directory, "straight");
        var failed = Path.Combine(_directory, "failed");
        var settings = Settings(method, epochs: 2);
        MultiTaskTrainer<PoisonedLeNet> Trainer(int? poisonedStep) => new(() => new PoisonedLeNet(poisonedStep));

        var full = Trainer(null).Train(settings, train, test, straight, resume: false);
        var error = Assert.Throws<ArithmeticException>(() => Trainer(7).Train(settings, train, test, failed, resume: false));
        var checkpoint = Path.Combine(failed, "checkpoint.bin");
        Assert.StartsWith("Step 7 (epoch 2, batch 2 of 5) failed: The ", error.Message);
        Assert.Contains(culprit, error.Message);
        Assert.Contains("docs/troubleshooting.md", error.Message);
        Assert.EndsWith($"The state before this batch is saved in {checkpoint}; continue with --resume.", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        var rest = Trainer(null).Train(settings, train, test, failed, resume: true);

        Assert.True(rest.Completed);
        Assert.Equal(10, rest.Steps);
        Assert.Equal(PoisonedWeights(straight), PoisonedWeights(failed));
        Assert.Equal(full.History.Select(h => h.TrainLoss), rest.History.Select(h => h.TrainLoss));
        Assert.Equal(full.History.Select(h => h.TestAccuracy), rest.History.Select(h => h.TestAccuracy));
    }

    private static float[][] PoisonedWeights(string runDirectory)
    {
        using var model = new PoisonedLeNet(null);
        model.load(MultiTaskTrainer<PoisonedLeNet>.ModelPath(runDirectory));
        return [.. model.parameters().Select(p => p.data<float>().ToArray())];
    }

    /// <summary>MultiLeNet whose features, at one training step, keep their value but get a NaN gradient.</summary>
    private sealed class PoisonedLeNet : TorchSharp.torch.nn.Module<Tensor, Tensor[]>, IMultiTaskNetwork
    {
        private readonly MultiLeNet inner = new();
        private readonly int? _poisonedStep;
        private int _steps;

        public PoisonedLeNet(int? poisonedStep) : base(nameof(PoisonedLeNet))
        {
            _poisonedStep = poisonedStep;
            RegisterComponents();
        }

        public int TaskCount => inner.TaskCount;

        public IEnumerable<TorchSharp.Modules.Parameter> SharedParameters => inner.SharedParameters;

        public IReadOnlyList<IEnumerable<TorchSharp.Modules.Parameter>> TaskParameters => inner.TaskParameters;

        public TorchSharp.Modules.Parameter LastSharedLayerWeight => inner.LastSharedLayerWeight;

        public BatchShard Shard => inner.Shard;

        // |f − f| = 0 adds nothing, but the derivative of √· at 0 is +Inf and that of |·| at 0 is 0: a NaN gradient.
        public MultiTaskOutput Forward(Tensor inputs)
        {
            var features = inner.Features(inputs);
            features = ++_steps == _poisonedStep ? features + (features - features.detach()).abs().sqrt() : features;
            return new MultiTaskOutput(inner.Heads(features), features);
        }

        public override Tensor[] forward(Tensor inputs) => inner.forward(inputs);
    }

    [Theory]
    [InlineData("famo")]
    [InlineData("gls")]
    public void LossWeightingRunsRecordConflictsAsNotMeasured(string method)
    {
        using var train = RandomData(32, 1);
        using var test = RandomData(16, 2);
        var run = Path.Combine(_directory, "run");
        var outcome = Trainer().Train(Settings(method, epochs: 1), train, test, run, resume: false);
        var metrics = Assert.Single(outcome.History);
        Assert.True(double.IsNaN(metrics.ConflictFraction) && double.IsNaN(metrics.MeanCosine) && double.IsNaN(metrics.MagnitudeSimilarity) && double.IsNaN(metrics.Curvature));
        Assert.All(metrics.TrainLoss.Concat(metrics.TestLoss), l => Assert.True(double.IsFinite(l)));
        var lines = File.ReadAllLines(Path.Combine(run, "metrics.csv"));
        var header = lines[0].Split(',');
        var row = lines[1].Split(',');
        Assert.Equal("", row[Array.IndexOf(header, "conflicts/mean_cosine")]);
        Assert.NotEqual("", row[Array.IndexOf(header, "test_loss/task0")]);
    }

    [Fact]
    public void ACorruptCheckpointIsRefusedAndThePreviousOneIsUsed()
    {
        using var train = RandomData(80, 1);
        using var test = RandomData(40, 2);
        var straight = Path.Combine(_directory, "straight");
        var interrupted = Path.Combine(_directory, "interrupted");
        Trainer().Train(Settings(), train, test, straight, resume: false);
        Trainer().Train(Settings(), train, test, interrupted, resume: false, stopAfterSteps: 7);
        var latest = Path.Combine(interrupted, "checkpoint.bin");
        var bytes = File.ReadAllBytes(latest);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(latest, bytes);

        var observer = new RecordingObserver();
        Trainer().Train(Settings(), train, test, interrupted, resume: true, observer);

        var warning = Assert.Single(observer.Warnings);
        Assert.Contains("checkpoint.bin is corrupt", warning);
        Assert.Contains("checkpoint.bin.prev", warning);
        // The previous checkpoint (end of epoch 1) replays steps 6 and 7 to the same end.
        Assert.Equal(Weights(straight), Weights(interrupted));
    }

    /// <summary>
    /// Checkpoints written before the method catalog kept the method's state in a section named "aggregator"
    /// (GradVac's target EMA and order generator here); they still resume, exactly.
    /// </summary>
    [Fact]
    public void ACheckpointWithTheOldAggregatorSectionStillResumesExactly()
    {
        using var train = RandomData(80, 1);
        using var test = RandomData(40, 2);
        var straight = Path.Combine(_directory, "straight");
        var interrupted = Path.Combine(_directory, "interrupted");
        Trainer().Train(Settings("gradvac"), train, test, straight, resume: false);
        Trainer().Train(Settings("gradvac"), train, test, interrupted, resume: false, stopAfterSteps: 7);
        var latest = Path.Combine(interrupted, "checkpoint.bin");
        var sections = CheckpointFile.Read(latest).ToDictionary();
        Assert.True(sections.Remove("method", out var state));
        sections["aggregator"] = state;
        File.Delete(latest);
        CheckpointFile.Write(latest, sections);

        Trainer().Train(Settings("gradvac"), train, test, interrupted, resume: true);

        Assert.Equal(Weights(straight), Weights(interrupted));
    }

    [Fact]
    public void WithoutAGoodCheckpointResumeFailsNamingTheFile()
    {
        using var train = RandomData(32, 1);
        using var test = RandomData(16, 2);
        var run = Path.Combine(_directory, "run");
        Trainer().Train(Settings(epochs: 1), train, test, run, resume: false, stopAfterSteps: 1);
        var latest = Path.Combine(run, "checkpoint.bin");
        File.WriteAllBytes(latest, File.ReadAllBytes(latest)[..100]);

        var error = Assert.Throws<InvalidDataException>(() => Trainer().Train(Settings(epochs: 1), train, test, run, resume: true));
        Assert.Contains(latest, error.Message);
        Assert.Contains("no previous checkpoint", error.Message);
    }

    [Fact]
    public void ResumeRefusesACheckpointOfOtherSettings()
    {
        using var train = RandomData(32, 1);
        using var test = RandomData(16, 2);
        var run = Path.Combine(_directory, "run");
        Trainer().Train(Settings(epochs: 1), train, test, run, resume: false, stopAfterSteps: 1);
        var error = Assert.Throws<ArgumentException>(() => Trainer().Train(Settings("mean", epochs: 1), train, test, run, resume: true));
        Assert.Contains("different run", error.Message);
    }

    [Fact]
    public void CheckpointFilesDetectTruncationAndForeignFiles()
    {
        var path = Path.Combine(_directory, "c.bin");
        CheckpointFile.Write(path, new Dictionary<string, byte[]> { ["a"] = [1, 2, 3], ["b"] = [] });
        Assert.Equal([1, 2, 3], CheckpointFile.Read(path)["a"]);
        CheckpointFile.Write(path, new Dictionary<string, byte[]> { ["a"] = [4] });
        Assert.Equal([4], CheckpointFile.Read(path)["a"]);
        Assert.Equal([1, 2, 3], CheckpointFile.Read(CheckpointFile.PreviousPath(path))["a"]);
        Assert.Equal(2, Directory.GetFiles(_directory).Length);

        File.WriteAllText(path, "hello");
        Assert.Contains("not a GradientSurgery checkpoint", Assert.Throws<InvalidDataException>(() => CheckpointFile.Read(path)).Message);
    }

    [Fact]
    public void StreamedSectionsGiveTheDocumentedFormatAndAFailingWriterLeavesTheLastCheckpoint()
    {
        var path = Path.Combine(_directory, "s.bin");
        var large = new byte[3_000_000];
        new Random(5).NextBytes(large);
        CheckpointFile.Write(path,
        [
            new("small", w => w.Write((byte)7)),
            new("large", w => { w.Write(large.AsSpan(0, 1_000_000)); w.Write(large.AsSpan(1_000_000)); }),
            new("empty", _ => { }),
        ]);

        // The format built independently: magic, version 1, count, then (name, length, bytes) per section, then SHA-256.
        using var expected = new MemoryStream();
        using (var writer = new BinaryWriter(expected, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write("GSCKPT\0\u0001"u8);
            writer.Write(1);
            writer.Write(3);
            foreach (var (name, bytes) in new[] { ("small", new byte[] { 7 }), ("large", large), ("empty", Array.Empty<byte>()) })
            {
                writer.Write(name);
                writer.Write((long)bytes.Length);
                writer.Write(bytes);
            }
        }
        expected.Write(System.Security.Cryptography.SHA256.HashData(expected.ToArray()));
        Assert.Equal(expected.ToArray(), File.ReadAllBytes(path));

        var failing = new CheckpointFile.Section("broken", _ => throw new IOException("disk full"));
        Assert.Throws<IOException>(() => CheckpointFile.Write(path, [new("small", w => w.Write((byte)1)), failing]));
        Assert.Equal(expected.ToArray(), File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_directory));
    }

    private sealed class RecordingObserver : ITrainingObserver
    {
        public List<string> Warnings { get; } = [];

        public void Started(int epoch, int batch, int batchesPerEpoch, bool resumed)
        {
        }

        public void Stepped(int epoch, int batch)
        {
        }

        public void EpochFinished(EpochMetrics metrics)
        {
        }

        public void Warning(string message) => Warnings.Add(message);
    }
}
