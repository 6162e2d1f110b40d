namespace Wuerstchen.Core.IO;

/// <summary>
/// Writes a file under a temporary name in the target folder and renames it into place only when it is
/// complete, so a failure (full disk, Ctrl+C, a crash) never leaves a partial file under the real name.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, bool overwrite, Action<Stream> write) => WriteAll(new[] { (path, write) }, overwrite);

    /// <summary>
    /// Writes files that belong together (an embedding's .json sidecar and its .npy): every one is written completely
    /// under its temporary name first, then they are renamed into place in the order given, back to back. A failure
    /// while writing leaves what was there; a failure between the renames removes the whole set (with overwrite the
    /// earlier version too: half an old pair beside half a new one would look whole). A crash between the renames can
    /// leave the first without the second only, so the caller puts first the file that is inert alone.
    /// </summary>
    public static void WriteAll(IReadOnlyList<(string Path, Action<Stream> Write)> files, bool overwrite)
    {
        var full = files.Select(f => Path.GetFullPath(f.Path)).ToArray();
        foreach (var target in full)
        {
            if (!overwrite && File.Exists(target))
            {
                throw Exists(target, null);
            }
        }

        var temps = new string?[full.Length];
        int published = 0, current = 0;
        try
        {
            for (current = 0; current < full.Length; current++)
            {
                temps[current] = Stage(full[current], files[current].Write);
            }

            for (current = 0; current < full.Length; current++, published++)
            {
                Publish(temps[current]!, full[current], overwrite);
                temps[current] = null;
            }
        }
        catch (Exception ex)
        {
            foreach (var temp in temps)
            {
                TryDelete(temp);
            }

            if (published > 0)
            {
                foreach (var target in full)
                {
                    TryDelete(target);
                }
            }

            // named by the file the caller is about (the last: the .npy of a pair), the failing one in the message
            throw Classify(ex, full[Math.Min(current, full.Length - 1)], full[^1], overwrite);
        }
    }

    /// <summary>Writes one file completely under a temporary name in its target's folder; returns that name.</summary>
    private static string Stage(string full, Action<Stream> write)
    {
        var folder = Path.GetDirectoryName(full) ?? ".";
        TempFiles.RemoveStale(folder);
        var temp = Path.Combine(folder, TempFiles.NameFor(Path.GetFileName(full)));
        try
        {
            using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            write(stream);
            stream.Flush(flushToDisk: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }

        return temp;
    }

    private static Exception Classify(Exception ex, string full, string main, bool overwrite)
    {
        if (ex is WuerstchenException)
        {
            return ex;
        }

        if (ex is IOException && !overwrite && File.Exists(full))
        {
            return Exists(full, ex);
        }

        if (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            string which = full == main ? "" : $" ('{Path.GetFileName(full)}' beside it)";
            return new WuerstchenException("OutputWriteFailed", WuerstchenErrorKind.WriteError, $"Could not write '{main}'{which}: {ex.Message}", main, ex);
        }

        return ex;
    }

    private static WuerstchenException Exists(string full, Exception? inner) =>
        new("OutputFileExists", WuerstchenErrorKind.WriteError, $"The file '{full}' already exists; use -Force to overwrite it.", full, inner);

    /// <summary>
    /// Moves the finished file into place. Without overwrite this must be an atomic "create if absent": two
    /// writers racing for one name (parallel runspaces) must not both succeed. Windows' MoveFileEx without the
    /// replace flag is atomic; on Unix, File.Move(overwrite: false) renames when the target did not exist a
    /// moment before, so a racing writer can be replaced silently. A hard link claims the name atomically
    /// (EEXIST when taken).
    /// </summary>
    private static void Publish(string temp, string full, bool overwrite)
    {
        if (overwrite || OperatingSystem.IsWindows())
        {
            File.Move(temp, full, overwrite);
            return;
        }

        if (link(temp, full) == 0)
        {
            File.Delete(temp);
            return;
        }

        if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == EEXIST)
        {
            throw new IOException($"The file '{full}' already exists.");
        }

        File.Move(temp, full, overwrite: false); // a file system without hard links: the best the OS offers
    }

    private const int EEXIST = 17; // Linux and macOS

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int link(string existing, string newPath);

    private static void TryDelete(string? path)
    {
        if (path is null)
        {
            return;
        }

        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
