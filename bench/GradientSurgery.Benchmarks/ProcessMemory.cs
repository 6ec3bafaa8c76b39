namespace GradientSurgery.Benchmarks;

/// <summary>Resident memory of this process from /proc/self/status (Linux): current (VmRSS) and peak (VmHWM), in MiB.</summary>
internal static partial class ProcessMemory
{
    /// <summary>
    /// Collects managed garbage and asks glibc to return freed heap pages to the system, so that the resident size
    /// reflects memory still in use rather than what the allocator keeps cached (Linux/glibc only; no-op elsewhere).
    /// </summary>
    public static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        if (OperatingSystem.IsLinux())
        {
            try
            {
                MallocTrim(0);
            }
            catch (EntryPointNotFoundException)
            {
                // Not glibc (e.g. musl): the resident size then includes the allocator's cache.
            }
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    public static double ResidentMiB => Read("VmRSS:");

    public static double PeakResidentMiB => Read("VmHWM:");

    private static double Read(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                var kib = long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
                return kib / 1024.0;
            }
        }
        throw new InvalidOperationException($"/proc/self/status has no {field} line.");
    }
}
