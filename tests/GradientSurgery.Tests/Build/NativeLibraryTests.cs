using GradientSurgery.Build;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Build;

/// <summary>The build's GLIBCXX_3.4.32 fix: TorchSharp loads, and the patcher does exactly its one edit.</summary>
public sealed class NativeLibraryTests : IDisposable
{
    private const string Version = "GLIBCXX_3.4.32";
    private const string Marker = "_ZSt21ios_base_library_initv";
    private static readonly string Unpatched = Path.Combine(AppContext.BaseDirectory, "TestData", "libLibTorchSharp.unpatched.so");
    private readonly string _directory = Directory.CreateTempSubdirectory("gsurg-elf-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void TorchSharpLoadsAndComputes()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 1.0f, 2.0f, 3.0f }, requires_grad: true);
        var y = (x * x).sum();
        y.backward();
        Assert.Equal(14.0f, y.item<float>());
        Assert.Equal(new[] { 2.0f, 4.0f, 6.0f }, x.grad!.data<float>().ToArray());
    }

    [Fact]
    public void TheLoadedCopyInTheOutputHasTheRequirementWeakened()
    {
        Assert.True(OperatingSystem.IsLinux(), "The native-library patch is for Linux x64.");
        // The copy this process really loaded (flat in a runtime-specific output, under runtimes/ in a portable one).
        using (var probe = tensor(1.0f))
        {
            Assert.Equal(1.0f, probe.item<float>());
        }
        var loaded = File.ReadLines("/proc/self/maps").Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 6 && fields[^1].EndsWith("/libLibTorchSharp.so", StringComparison.Ordinal))
            .Select(fields => fields[^1]).Distinct().Single();
        Assert.StartsWith(AppContext.BaseDirectory, loaded, StringComparison.Ordinal);
        var need = ElfVersionNeedPatcher.Inspect(loaded, Version);
        Assert.NotNull(need);
        Assert.Equal(2, need.Value.Flags & 2);
        Assert.Equal([Marker], need.Value.BoundSymbols);
    }

    [Fact]
    public void PatchWeakensACopyOnceAndNeverTouchesTheSource()
    {
        var original = File.ReadAllBytes(Unpatched);
        var copy = Path.Combine(_directory, "libLibTorchSharp.so");
        File.Copy(Unpatched, copy);
        Assert.Equal(0, ElfVersionNeedPatcher.Inspect(copy, Version)!.Value.Flags & 2);

        Assert.Equal(ElfPatchOutcome.Patched, ElfVersionNeedPatcher.Patch(copy, Version, [Marker]));
        Assert.Equal(2, ElfVersionNeedPatcher.Inspect(copy, Version)!.Value.Flags & 2);
        Assert.Equal(ElfPatchOutcome.AlreadyWeak, ElfVersionNeedPatcher.Patch(copy, Version, [Marker]));

        var patched = File.ReadAllBytes(copy);
        Assert.Equal(original.Length, patched.Length);
        Assert.Equal(1, original.Zip(patched).Count(pair => pair.First != pair.Second));
        Assert.Equal(original, File.ReadAllBytes(Unpatched));
        Assert.Single(Directory.GetFiles(_directory));
    }

    [Fact]
    public void PatchRefusesWhenOtherSymbolsAreBoundToTheVersion()
    {
        var copy = Path.Combine(_directory, "libLibTorchSharp.so");
        File.Copy(Unpatched, copy);
        Assert.Equal(ElfPatchOutcome.Refused, ElfVersionNeedPatcher.Patch(copy, Version, ["some_other_symbol"]));
        Assert.Equal(File.ReadAllBytes(Unpatched), File.ReadAllBytes(copy));
    }

    [Fact]
    public void PatchLeavesALibraryWithoutTheRequirementAlone()
    {
        var copy = Path.Combine(_directory, "libLibTorchSharp.so");
        File.Copy(Unpatched, copy);
        Assert.Equal(ElfPatchOutcome.NotRequired, ElfVersionNeedPatcher.Patch(copy, "GLIBCXX_99.0", [Marker]));
    }

    [Fact]
    public void MalformedFilesAreNamedInTheError()
    {
        var text = Path.Combine(_directory, "not-elf.so");
        File.WriteAllText(text, "this is not a shared object, just some text that is long enough to have a header");
        Assert.Contains(text, Assert.Throws<InvalidDataException>(() => ElfVersionNeedPatcher.Patch(text, Version, [Marker])).Message);

        var truncated = Path.Combine(_directory, "truncated.so");
        File.WriteAllBytes(truncated, File.ReadAllBytes(Unpatched).AsSpan(0, 4096).ToArray());
        var error = Assert.Throws<InvalidDataException>(() => ElfVersionNeedPatcher.Patch(truncated, Version, [Marker]));
        Assert.Contains(truncated, error.Message);
        Assert.Contains("truncated", error.Message);
    }
}
