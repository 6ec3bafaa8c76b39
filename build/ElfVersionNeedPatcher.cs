// Hand-written because no NuGet package edits ELF symbol-version requirements, and the build must not
// depend on a Debian tool (patchelf cannot do this edit anyway: --clear-symbol-version leaves the
// version-need entry in place). This file is compiled twice: into the MSBuild inline task that patches
// the build output (build/LibTorchSharpPatch.targets) and, without the task class, into the test project,
// which checks the patcher on the real library.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
#if !GRADIENTSURGERY_TESTS
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
#endif

namespace GradientSurgery.Build;

/// <summary>What <see cref="ElfVersionNeedPatcher.Patch"/> did to one file.</summary>
public enum ElfPatchOutcome
{
    /// <summary>The file was rewritten: the version requirement is now weak.</summary>
    Patched,
    /// <summary>The requirement was already weak; the file was left untouched.</summary>
    AlreadyWeak,
    /// <summary>The file does not require the version at all; nothing to do.</summary>
    NotRequired,
    /// <summary>Symbols other than the allowed ones are bound to the version, so weakening it would be unsafe.</summary>
    Refused,
}

/// <summary>
/// Marks one entry of an ELF64 little-endian shared object's <c>.gnu.version_r</c> section as weak
/// (VER_FLG_WEAK), so that the dynamic loader accepts the library on a host whose libstdc++ lacks that
/// version. Only done when every dynamic symbol bound to the version is in an allow-list of symbols that
/// no relocation uses (for libLibTorchSharp.so: the link-time marker <c>_ZSt21ios_base_library_initv</c>).
/// </summary>
public static class ElfVersionNeedPatcher
{
    private const uint ShtDynsym = 11;
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const uint ShtGnuVersym = 0x6fffffff;
    private const ushort VerFlagWeak = 0x2;

    /// <summary>Reads the file and reports the flags and bound symbols of <paramref name="version"/>.</summary>
    /// <returns>null when the file does not require the version.</returns>
    public static (ushort Flags, IReadOnlyList<string> BoundSymbols)? Inspect(string path, string version)
    {
        var image = File.ReadAllBytes(path);
        var entry = FindVersionNeed(image, path, version);
        return entry is null ? null : (entry.Value.Flags, entry.Value.BoundSymbols);
    }

    /// <summary>
    /// Weakens the requirement on <paramref name="version"/> in <paramref name="path"/>. The file is never
    /// edited in place: the patched image is written beside it and renamed over it, so a hard link into the
    /// NuGet cache is replaced rather than modified.
    /// </summary>
    public static ElfPatchOutcome Patch(string path, string version, ICollection<string> allowedSymbols)
    {
        var image = File.ReadAllBytes(path);
        var entry = FindVersionNeed(image, path, version);
        if (entry is null)
        {
            return ElfPatchOutcome.NotRequired;
        }
        foreach (var symbol in entry.Value.BoundSymbols)
        {
            if (!allowedSymbols.Contains(symbol))
            {
                return ElfPatchOutcome.Refused;
            }
        }
        if ((entry.Value.Flags & VerFlagWeak) != 0)
        {
            return ElfPatchOutcome.AlreadyWeak;
        }
        WriteUInt16(image, entry.Value.FlagsOffset, (ushort)(entry.Value.Flags | VerFlagWeak));
        var temporary = path + ".patching-" + Guid.NewGuid().ToString("N");
        File.WriteAllBytes(temporary, image);
        // File.Replace is a rename(2) on Unix; File.Move(..., overwrite) is not in netstandard2.0.
        File.Replace(temporary, path, null);
        return ElfPatchOutcome.Patched;
    }

    // Plain structs rather than records: MSBuild compiles inline tasks against netstandard2.0.
    private struct VersionNeed
    {
        public long FlagsOffset;
        public ushort Flags;
        public IReadOnlyList<string> BoundSymbols;
    }

    private struct Section
    {
        public uint Type;
        public long Offset;
        public long Size;
        public uint Link;
        public long EntrySize;
    }

    private static VersionNeed? FindVersionNeed(byte[] image, string path, string version)
    {
        if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
        {
            throw new InvalidDataException($"{path}: not an ELF file.");
        }
        if (image[4] != 2 || image[5] != 1)
        {
            throw new InvalidDataException($"{path}: only 64-bit little-endian ELF is supported (class {image[4]}, data {image[5]}).");
        }
        var sectionTable = ReadInt64(image, 0x28);
        int entrySize = ReadUInt16(image, 0x3A);
        int count = ReadUInt16(image, 0x3C);
        var sections = new Section[count];
        for (var s = 0; s < count; s++)
        {
            var at = sectionTable + (long)s * entrySize;
            Require(image, path, at, 64, "section header");
            sections[s] = new Section
            {
                Type = ReadUInt32(image, at + 4),
                Offset = ReadInt64(image, at + 24),
                Size = ReadInt64(image, at + 32),
                Link = ReadUInt32(image, at + 40),
                EntrySize = ReadInt64(image, at + 56),
            };
        }
        var verneed = Array.FindIndex(sections, s => s.Type == ShtGnuVerneed);
        if (verneed < 0)
        {
            return null;
        }
        var strings = sections[sections[verneed].Link];
        long? flagsOffset = null;
        ushort flags = 0, versionIndex = 0;
        var need = sections[verneed].Offset;
        while (flagsOffset is null)
        {
            Require(image, path, need, 16, "version-need entry");
            int auxCount = ReadUInt16(image, need + 2);
            var aux = need + ReadUInt32(image, need + 8);
            for (var a = 0; a < auxCount; a++)
            {
                Require(image, path, aux, 16, "version-need auxiliary entry");
                if (ReadString(image, strings.Offset + ReadUInt32(image, aux + 8)) == version)
                {
                    flagsOffset = aux + 4;
                    flags = ReadUInt16(image, aux + 4);
                    versionIndex = ReadUInt16(image, aux + 6);
                    break;
                }
                aux += ReadUInt32(image, aux + 12);
            }
            var next = ReadUInt32(image, need + 12);
            if (next == 0)
            {
                break;
            }
            need += next;
        }
        if (flagsOffset is null)
        {
            return null;
        }
        var bound = new List<string>();
        var versym = Array.FindIndex(sections, s => s.Type == ShtGnuVersym);
        var dynsym = Array.FindIndex(sections, s => s.Type == ShtDynsym);
        if (versym >= 0 && dynsym >= 0)
        {
            var symbolStrings = sections[sections[dynsym].Link];
            var symbols = sections[dynsym].Size / sections[dynsym].EntrySize;
            for (long k = 0; k < symbols; k++)
            {
                if ((ReadUInt16(image, sections[versym].Offset + 2 * k) & 0x7fff) == versionIndex)
                {
                    var name = ReadUInt32(image, sections[dynsym].Offset + k * sections[dynsym].EntrySize);
                    bound.Add(ReadString(image, symbolStrings.Offset + name));
                }
            }
        }
        return new VersionNeed { FlagsOffset = flagsOffset.Value, Flags = flags, BoundSymbols = bound };
    }

    private static void Require(byte[] image, string path, long offset, int length, string what)
    {
        if (offset < 0 || offset + length > image.Length)
        {
            throw new InvalidDataException($"{path}: truncated ELF file ({what} at offset {offset} runs past the end, {image.Length} bytes).");
        }
    }

    private static string ReadString(byte[] image, long offset)
    {
        var end = offset;
        while (end < image.Length && image[end] != 0)
        {
            end++;
        }
        return Encoding.ASCII.GetString(image, (int)offset, (int)(end - offset));
    }

    private static ushort ReadUInt16(byte[] b, long at) => (ushort)(b[at] | (b[at + 1] << 8));

    private static uint ReadUInt32(byte[] b, long at) => (uint)(b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24));

    private static long ReadInt64(byte[] b, long at) => (long)(ReadUInt32(b, at) | ((ulong)ReadUInt32(b, at + 4) << 32));

    private static void WriteUInt16(byte[] b, long at, ushort value)
    {
        b[at] = (byte)value;
        b[at + 1] = (byte)(value >> 8);
    }
}

#if !GRADIENTSURGERY_TESTS
/// <summary>MSBuild task: weakens one symbol-version requirement in each of <see cref="Files"/>.</summary>
public sealed class WeakenElfVersionNeed : Task
{
    /// <summary>The ELF files to patch (copies in a build or publish output, never the NuGet cache).</summary>
    [Required]
    public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>The version requirement to weaken, e.g. GLIBCXX_3.4.32.</summary>
    [Required]
    public string Version { get; set; } = "";

    /// <summary>Semicolon-separated symbols that may be bound to the version.</summary>
    [Required]
    public string AllowedSymbols { get; set; } = "";

    /// <inheritdoc />
    public override bool Execute()
    {
        var allowed = new HashSet<string>(AllowedSymbols.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries));
        foreach (var file in Files)
        {
            var outcome = ElfVersionNeedPatcher.Patch(file.ItemSpec, Version, allowed);
            if (outcome == ElfPatchOutcome.Refused)
            {
                Log.LogWarning($"{file.ItemSpec}: symbols other than {AllowedSymbols} are bound to {Version}; left unpatched.");
            }
            else
            {
                Log.LogMessage(MessageImportance.Low, $"{file.ItemSpec}: {Version} {outcome}.");
            }
        }
        return !Log.HasLoggedErrors;
    }
}
#endif
