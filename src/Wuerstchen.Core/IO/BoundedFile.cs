using System.Runtime.InteropServices;
using System.Text;

namespace Wuerstchen.Core.IO;

/// <summary>
/// Why a file was refused before it was read. An <see cref="IOException"/>, so every reader's existing catch turns it
/// into that reader's own error id (InvalidModelIndex, InvalidTokenizer, InvalidEmbeddingFile …).
/// </summary>
public sealed class FileBoundException : IOException
{
    public FileBoundException(string message, bool tooLarge) : base(message) => TooLarge = tooLarge;

    /// <summary>The file is larger than its kind's bound (ImageTooLarge for images); otherwise not a regular file or empty.</summary>
    public bool TooLarge { get; }
}

/// <summary>
/// The one way the module reads a file it did not write itself: bounded by construction. Stat first — a regular
/// file (symbolic links followed to their target), not empty, at most the bound for its kind — then open and read
/// with that length as a hard cap. A FIFO would block the open forever and /dev/zero never ends, so both are refused
/// before the open; a file that grows while it is read is refused rather than followed.
/// </summary>
public static class BoundedFile
{
    /// <summary>Checks <paramref name="path"/> and returns its length; <paramref name="what"/> names the kind ("a vocab.json").</summary>
    /// <exception cref="FileNotFoundException">It does not exist (or is a folder).</exception>
    /// <exception cref="FileBoundException">Not a regular file, empty, or larger than <paramref name="maxBytes"/>.</exception>
    public static long Check(string path, long maxBytes, string what)
    {
        if (NotAFile(path) is { } why)
        {
            throw new FileBoundException($"'{TextExcerpt.Of(path, 200)}' {why}; {what} must be a file.", tooLarge: false);
        }

        var info = Resolve(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"'{path}' does not exist.", path);
        }

        var type = FileType.Of(info.FullName);
        if (type is not null and not "a regular file")
        {
            throw new FileBoundException($"'{path}' is not a regular file (it is {type}); {what} must be a file on disk.", tooLarge: false);
        }

        long length = info.Length;
        if (length == 0)
        {
            // where the type is unknown (no statx), a pipe or device shows as 0 bytes: refuse it without opening it
            throw new FileBoundException(type is null
                ? $"'{path}' is empty or not a regular file (a pipe or device); {what} must be a non-empty file on disk."
                : $"'{path}' is empty (0 bytes); {what} cannot be empty.", tooLarge: false);
        }

        if (length > maxBytes)
        {
            throw new FileBoundException($"'{path}' is {Size(length)}; {what} is at most {Size(maxBytes)}.", tooLarge: true);
        }

        return length;
    }

    /// <summary>
    /// Why something at <paramref name="path"/> is no file to read, when that is so: a folder ("does not exist" before,
    /// which sent the user looking for a missing file), or a loop of symbolic links (the open failed with "system error
    /// number 40"). Null for a file, a link to one, and for nothing at all (the caller's "not found").
    /// </summary>
    public static string? NotAFile(string path)
    {
        if (Directory.Exists(path))
        {
            return "is a folder, not a file";
        }

        var info = new FileInfo(path);
        try
        {
            _ = info.LinkTarget is not null ? info.ResolveLinkTarget(returnFinalTarget: true) : null;
            return null;
        }
        catch (IOException)
        {
            return $"is a symbolic link that never reaches a file (a loop of symbolic links: it points to '{TextExcerpt.Of(info.LinkTarget, 200)}')";
        }
    }

    /// <summary>
    /// The file <paramref name="path"/> names, symbolic links followed to the last target: FileInfo describes a link
    /// itself (its length is the target's name), and the Hugging Face cache links every file to a blob.
    /// </summary>
    public static FileInfo Resolve(string path)
    {
        var info = new FileInfo(path);
        try
        {
            return info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target ? target : info;
        }
        catch (IOException)
        {
            return info; // a link loop: what the link is (the open fails and says so)
        }
    }

    /// <summary>Checks the file, then opens it for reading (shared read); the returned length is the cap to read.</summary>
    public static FileStream OpenRead(string path, long maxBytes, string what, out long length)
    {
        length = Check(path, maxBytes, what);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    /// <summary>The whole file, at most <paramref name="maxBytes"/> (checked before reading, enforced while reading).</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        using var stream = OpenRead(path, maxBytes, what, out long length);
        var bytes = new byte[length];
        int read = 0;
        while (read < bytes.Length)
        {
            int n = stream.Read(bytes, read, bytes.Length - read);
            if (n == 0)
            {
                return bytes[..read]; // shrank since the stat: what is there
            }

            read += n;
        }

        if (stream.ReadByte() != -1)
        {
            throw new FileBoundException($"'{path}' grew while it was read (beyond the {Size(length)} it had); {what} must not change while it is read.", tooLarge: true);
        }

        return bytes;
    }

    /// <summary>The whole file as UTF-8 text (a byte order mark is skipped), at most <paramref name="maxBytes"/>.</summary>
    public static string ReadAllText(string path, long maxBytes, string what)
    {
        var bytes = ReadAllBytes(path, maxBytes, what);
        int start = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
        return Encoding.UTF8.GetString(bytes, start, bytes.Length - start);
    }

    /// <summary>"64 MiB", "3 KiB", "12 bytes".</summary>
    public static string Size(long bytes) =>
        bytes >= 1L << 20 ? $"{bytes >> 20} MiB" : bytes >= 1L << 10 ? $"{bytes >> 10} KiB" : $"{bytes} bytes";
}

/// <summary>
/// The type of a file from statx(2) (Linux): .NET's FileInfo says "exists" for a FIFO, a socket or a device alike.
/// Elsewhere (or where statx is missing) the type is unknown and <see cref="BoundedFile"/> relies on the length.
/// </summary>
internal static unsafe class FileType
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;

    [DllImport("libc.so.6", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte* buffer);

    /// <summary>"a regular file", "a FIFO (named pipe)" …; null when unknown.</summary>
    public static string? Of(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            byte* buffer = stackalloc byte[256]; // struct statx: 256 bytes, the same layout on every architecture
            if (Statx(AtFdCwd, path, 0, StatxType, buffer) != 0)
            {
                return null;
            }

            int mode = *(ushort*)(buffer + 28) & 0xF000; // stx_mode: the S_IFMT bits
            return mode switch
            {
                0x8000 => "a regular file",
                0x1000 => "a FIFO (named pipe)",
                0x2000 => "a character device",
                0x6000 => "a block device",
                0xC000 => "a socket",
                0x4000 => "a folder",
                _ => "not a regular file",
            };
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
