using System.Security.Cryptography;

namespace Wuerstchen.Core.IO;

/// <summary>Digests of input files that the metadata records (image prompts): which picture it was, whatever its name now.</summary>
public static class FileDigest
{
    /// <summary>
    /// The SHA-256 of an image file's bytes as lower-case hex, streamed; the file is checked as every image is
    /// (<see cref="BoundedFile"/>: a regular file, at most <see cref="ImageLoader.MaxFileBytes"/>), so a FIFO never blocks.
    /// </summary>
    public static string Sha256(string path)
    {
        using var stream = BoundedFile.OpenRead(path, ImageLoader.MaxFileBytes, "an image", out _);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }

    /// <summary><see cref="Sha256"/>, or "" when the file cannot be read (its reader reports why, with the module's error).</summary>
    public static string Sha256OrEmpty(string path)
    {
        try
        {
            return Sha256(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
