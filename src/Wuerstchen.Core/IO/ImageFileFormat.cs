namespace Wuerstchen.Core.IO;

/// <summary>The formats generated images are written in.</summary>
public enum ImageFileFormat
{
    Png,
    Jpeg,
    WebP,
}

/// <summary>
/// Which format a file name asks for. An output path whose extension is a format written here names a file; a path
/// with any other extension ("out.gif", the typo "out.jpgg") is refused rather than silently becoming a folder of that
/// name. A name without an extension is a folder, and so is an existing folder whatever its name (callers check that
/// first), so "run.v2" works once the folder exists.
/// </summary>
public static class ImageFormats
{
    /// <summary>The JPEG/WebP quality when none is given: visually lossless for generated pictures at a third of PNG's size.</summary>
    public const int DefaultQuality = 90;

    /// <summary>The extensions written, as listed in messages.</summary>
    public static IReadOnlyList<string> SupportedExtensions { get; } = new[] { ".png", ".jpg", ".jpeg", ".webp" };

    /// <summary>The format of a supported extension (".png", ".JPG" …), else null.</summary>
    public static ImageFileFormat? FromExtension(string? extension) => extension?.ToLowerInvariant() switch
    {
        ".png" => ImageFileFormat.Png,
        ".jpg" or ".jpeg" => ImageFileFormat.Jpeg,
        ".webp" => ImageFileFormat.WebP,
        _ => null,
    };

    /// <summary>
    /// What a path that is not an existing folder names: a supported image file (its format), or a new folder (null,
    /// no extension). Any other extension is the error UnsupportedImageFormat, naming the supported ones.
    /// </summary>
    public static ImageFileFormat? ForOutputPath(string path)
    {
        var extension = Path.GetExtension(path);
        if (FromExtension(extension) is { } format)
        {
            return format;
        }

        if (extension.Length > 0)
        {
            throw Unsupported(path, extension);
        }

        return null;
    }

    /// <summary>The format of a file to write; anything but a supported extension is UnsupportedImageFormat.</summary>
    public static ImageFileFormat ForFile(string path)
    {
        var extension = Path.GetExtension(path);
        return FromExtension(extension) ?? throw Unsupported(path, extension);
    }

    /// <summary>Checks a JPEG/WebP quality (1 to 100).</summary>
    public static void ValidateQuality(int quality)
    {
        if (quality is < 1 or > 100)
        {
            throw new WuerstchenException("InvalidQuality", WuerstchenErrorKind.InvalidArgument,
                $"The quality {quality} is out of range: give 1 (smallest file) to 100 (best picture); the default is {DefaultQuality}.", quality);
        }
    }

    private static WuerstchenException Unsupported(string path, string extension) =>
        new("UnsupportedImageFormat", WuerstchenErrorKind.InvalidArgument,
            $"Images are not written as '{(extension.Length == 0 ? "(no extension)" : extension)}' ('{path}'): give a file name ending in "
            + $"{string.Join(", ", SupportedExtensions.Take(SupportedExtensions.Count - 1))} or {SupportedExtensions[^1]}, or a folder "
            + "(a new folder whose name has a dot: create it first, e.g. New-Item -ItemType Directory).", path);
}
