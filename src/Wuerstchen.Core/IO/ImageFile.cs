using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Xmp;
using SixLabors.ImageSharp.PixelFormats;

namespace Wuerstchen.Core.IO;

/// <summary>
/// Generated images in PNG, JPEG or WebP, each carrying the generation parameters where it can be read back: PNG as
/// text chunks (<see cref="PngImage"/>), JPEG and WebP as XMP (<see cref="XmpParameters"/>).
/// </summary>
public static class ImageFile
{
    /// <summary>Writes 8-bit RGB in <paramref name="format"/>; <paramref name="quality"/> (1–100) applies to JPEG and WebP, PNG is lossless.</summary>
    public static void Write(Stream stream, byte[] rgb, int width, int height, IEnumerable<KeyValuePair<string, string>> parameters,
        ImageFileFormat format, int quality = ImageFormats.DefaultQuality)
    {
        ImageFormats.ValidateQuality(quality);
        if (format == ImageFileFormat.Png)
        {
            PngImage.Write(stream, rgb, width, height, parameters);
            return;
        }

        using var image = Image.LoadPixelData<Rgb24>(rgb, width, height);
        image.Metadata.XmpProfile = new XmpProfile(XmpParameters.Build(parameters));
        switch (format)
        {
            case ImageFileFormat.Jpeg:
                image.SaveAsJpeg(stream, new JpegEncoder { Quality = quality });
                break;
            case ImageFileFormat.WebP:
                // lossy, as a JPEG: a lossless WebP of a photo-like picture is about as large as the PNG
                image.SaveAsWebp(stream, new WebpEncoder { FileFormat = WebpFileFormatType.Lossy, Quality = quality });
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown image format.");
        }
    }

    /// <summary>Writes the file named <paramref name="path"/> atomically, in the format its extension names.</summary>
    public static void Save(string path, bool overwrite, byte[] rgb, int width, int height, IEnumerable<KeyValuePair<string, string>> parameters,
        int quality = ImageFormats.DefaultQuality)
    {
        var format = ImageFormats.ForFile(path);
        ImageFormats.ValidateQuality(quality);
        var text = parameters.Select(p => new KeyValuePair<string, string>(p.Key, WithoutNul(p.Value))).ToArray();
        foreach (var (key, value) in text)
        {
            // whatever the module writes, it reads back: prompts are capped far below this, but a hand-made embedding
            // object can carry any text (a 20 MB Source); refused before anything is written
            if (value.Length > PngText.MaxStoredTextBytes / 3 && System.Text.Encoding.UTF8.GetByteCount(value) > PngText.MaxStoredTextBytes)
            {
                throw new WuerstchenException("ImageTextTooLarge", WuerstchenErrorKind.InvalidArgument,
                    $"The image's '{key}' text ('{TextExcerpt.Of(value, 40)}') takes more than {BoundedFile.Size(PngText.MaxStoredTextBytes)}, which an image's text is read back up to; shorten it.", key);
            }
        }

        AtomicFile.Write(path, overwrite, s => Write(s, rgb, width, height, text, format, quality));
    }

    /// <summary>
    /// A PNG text chunk ends its keyword with NUL and may not hold one in its text, nor may XMP (XML): a NUL that got
    /// into a value (an embedding's prompt from a hand-edited sidecar; new prompts are refused with InvalidPrompt) is
    /// written as U+FFFD, never as a NUL that would cut the value short in other readers.
    /// </summary>
    private static string WithoutNul(string value) => value.Contains('\0') ? value.Replace('\0', '\uFFFD') : value;

    /// <summary>
    /// The generation parameters stored in an image written here (PNG text chunks, or the XMP of a JPEG/WebP);
    /// empty when it has none.
    /// </summary>
    /// <exception cref="InvalidDataException">Not an image, or a damaged one.</exception>
    /// <exception cref="IOException">Missing, not a regular file, or larger than <see cref="ImageLoader.MaxFileBytes"/>.</exception>
    public static IReadOnlyDictionary<string, string> ReadParameters(string path)
    {
        // the format from the first bytes only: identifying a PNG would inflate its text chunks without limit
        var bytes = BoundedFile.ReadAllBytes(path, ImageLoader.MaxFileBytes, "an image");
        var format = Image.DetectFormat(bytes);
        if (format is PngFormat)
        {
            return PngText.Read(path, bytes);
        }

        try
        {
            var info = Image.Identify(bytes) ?? throw new InvalidDataException($"'{path}' is not an image.");
            return XmpParameters.Read(info.Metadata.XmpProfile?.GetDocument());
        }
        catch (Exception ex) when (ex is not (InvalidDataException or OperationCanceledException or StackOverflowException or AccessViolationException))
        {
            // ImageSharp (and the XMP parser) fail on a damaged file with many exception types: one type for scripts to catch
            throw new InvalidDataException($"'{path}' could not be read: {TextExcerpt.Of(ex.Message, 200)}", ex);
        }
    }
}
