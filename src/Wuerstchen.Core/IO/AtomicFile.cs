namespace Wuerstchen.Core.IO;

/// <summary>
/// Writes a file under a temporary name in the target folder and renames it into place only when it is
/// complete, so a failure (full disk, Ctrl+C, a crash) never leaves a partial file under the real name.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, bool overwrite, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full) ?? ".";
        if (!overwrite && File.Exists(full))
        {
            throw new WuerstchenException("OutputFileExists", WuerstchenErrorKind.WriteError,
                $"The file '{full}' already exists; use -Force to overwrite it.", full);
        }

        var temp = Path.Combine(folder, "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            Publish(temp, full, overwrite);
        }
        catch (Exception ex)
        {
            TryDelete(temp);
            if (ex is WuerstchenException)
            {
                throw;
            }

            if (ex is IOException && !overwrite && File.Exists(full))
            {
                throw new WuerstchenException("OutputFileExists", WuerstchenErrorKind.WriteError,
                    $"The file '{full}' already exists; use -Force to overwrite it.", full, ex);
            }

            if (ex is IOException or UnauthorizedAccessException or NotSupportedException)
            {
                throw new WuerstchenException("OutputWriteFailed", WuerstchenErrorKind.WriteError,
                    $"Could not write '{full}': {ex.Message}", full, ex);
            }

            throw;
        }
    }

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

    private static void TryDelete(string path)
    {
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
