namespace GradientSurgery.Experiments;

/// <summary>Writes an output file all at once: to a temporary file beside it, then renamed over it, so that an interrupted run never leaves half a file.</summary>
public static class AtomicFile
{
    /// <summary>Lets <paramref name="write"/> write a temporary path, then moves it to <paramref name="path"/>.</summary>
    public static void Write(string path, Action<string> write)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        // Same directory (one file system, so the rename is atomic) and same extension (writers that pick the format by it).
        var temporary = Path.Combine(directory, $".{Path.GetFileNameWithoutExtension(full)}.{Guid.NewGuid():N}.tmp{Path.GetExtension(full)}");
        try
        {
            write(temporary);
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text) => Write(path, temporary => File.WriteAllText(temporary, text));
}
