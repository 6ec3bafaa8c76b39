namespace GradientSurgery.Benchmarks;

/// <summary>Resident memory of this process from /proc/self/status (Linux): current (VmRSS) and peak (VmHWM), in MiB.</summary>
internal static class ProcessMemory
{
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
