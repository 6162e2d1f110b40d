using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using Wuerstchen.Core.IO.Jpeg;
using JpegFormat = SixLabors.ImageSharp.Formats.Jpeg.JpegFormat;

namespace Wuerstchen.Core.IO;

/// <summary>
/// Loads a user image for the EfficientNet encoder, with bounded decoded size: the header is read first
/// and oversized (or decompression-bomb) images are rejected before any pixel is decoded.
/// </summary>
public static class ImageLoader
{
    public const long MaxFileBytes = 256L << 20;
    public const int MaxSide = 16384;
    public const long MaxPixels = 64L << 20;

    /// <summary>The image's pixel size, read from its header only.</summary>
    public static (int Width, int Height) Identify(string path) => Identify(path, ReadFile(path));

    private static (int Width, int Height) Identify(string path, byte[] bytes)
    {
        var info = IdentifyChecked(path, bytes, out var format);
        try
        {
            // EXIF orientations 5-8 turn the picture by 90°: report the size it is shown at
            var exif = info.Metadata.ExifProfile ?? PngExif(path, bytes, format);
            var orientation = exif?.GetValue(SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifTag.Orientation)?.Value ?? 1;
            return orientation is >= 5 and <= 8 ? (info.Height, info.Width) : (info.Width, info.Height);
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            throw Invalid(path, ex);
        }
    }

    /// <summary>The header, read without decoding pixels, with the size and completeness checks every decode starts from.</summary>
    private static IImageInfo IdentifyChecked(string path, byte[] bytes, out IImageFormat? format)
    {
        try
        {
            var info = Image.Identify(ImageDecoding.Configuration, bytes, out format) ?? throw new WuerstchenException("InvalidImageFile", WuerstchenErrorKind.InvalidData,
                $"'{path}' is not an image in a format ImageSharp reads (PNG, JPEG, BMP, GIF, TGA, TIFF, WebP, PBM).", path);
            CheckSize(path, info.Width, info.Height);
            CheckComplete(path, bytes, format?.Name);
            return info;
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            throw Invalid(path, ex);
        }
    }

    /// <summary>
    /// Resizes (bilinear with antialiasing) so the image covers width×height, centre-crops to it and returns
    /// [3,height,width] RGB in [0,1] normalised with the ImageNet mean and standard deviation.
    /// </summary>
    public static float[] LoadNormalized(string path, int width, int height)
    {
        using var image = LoadOriented(path);
        try
        {
            Fit(image, width, height);
            return Normalize(image, width, height);
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            throw Invalid(path, ex);
        }
    }

    /// <summary>
    /// The one bounded decode of a user image, for every consumer (the effnet encoder here, the CLIP image
    /// preprocessing): the file read once through <see cref="BoundedFile"/>, its header identified and its size checked
    /// before any pixel is decoded, one frame, truncation checked; decoded to RGB (alpha dropped, not composited, as
    /// PIL's convert("RGB")), then turned as its EXIF orientation says (diffusers' load_image applies
    /// PIL.ImageOps.exif_transpose; camera photos need it). The caller disposes the image.
    /// </summary>
    internal static Image<Rgb24> LoadOriented(string path, CancellationToken cancellationToken = default) =>
        LoadOriented(path, pillowJpeg: false, out _, cancellationToken);

    /// <summary>
    /// <see cref="LoadOriented(string, CancellationToken)"/>, with JPEGs decoded as PIL decodes them when
    /// <paramref name="pillowJpeg"/> is set: by <see cref="JpegDecoder"/>, byte for byte libjpeg-turbo 2.1.5 with PIL's
    /// settings (ImageSharp's own JPEG decoder differs by up to 14 levels with 4:2:0 chroma). A JPEG of a kind that
    /// decoder refuses (arithmetic coding, 12-bit, lossless, CMYK/YCCK …) is decoded by ImageSharp instead, and
    /// <paramref name="jpegFallback"/> says why, so that the caller can warn that the pixels are not PIL's; it is null
    /// otherwise. Every other check is the same.
    /// </summary>
    internal static Image<Rgb24> LoadOriented(string path, bool pillowJpeg, out string? jpegFallback, CancellationToken cancellationToken = default)
    {
        var bytes = ReadFile(path); // read once: what is identified is what is decoded
        var info = IdentifyChecked(path, bytes, out var format);
        Image<Rgb24>? image = null;
        jpegFallback = null;
        try
        {
            if (pillowJpeg && format is JpegFormat)
            {
                image = DecodeLikePillow(bytes, info, out jpegFallback, cancellationToken);
            }

            image ??= Image.Load<Rgb24>(ImageDecoding.Configuration, bytes, out format);
            CheckSize(path, image.Width, image.Height);
            image.Metadata.ExifProfile ??= PngExif(path, bytes, format);
            image.Mutate(x => x.AutoOrient());
            return image;
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            image?.Dispose();
            throw Invalid(path, ex);
        }
        catch
        {
            image?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The JPEG through <see cref="JpegDecoder"/>, with the EXIF profile ImageSharp read from its header (for the
    /// orientation applied after decoding); null when the decoder refuses the JPEG's kind, with the reason. A malformed
    /// file throws <see cref="JpegDecodeException"/>, which the caller reports as InvalidImageFile.
    /// </summary>
    private static Image<Rgb24>? DecodeLikePillow(byte[] bytes, IImageInfo info, out string? fallback, CancellationToken cancellationToken)
    {
        fallback = null;
        JpegImage decoded;
        try
        {
            decoded = JpegDecoder.Decode(bytes, MaxPixels, cancellationToken);
        }
        catch (JpegDecodeException ex) when (ex.Unsupported)
        {
            fallback = ex.Message;
            return null;
        }

        // a copy, not wrapped memory: AutoOrient's 90° turns swap pixel buffers, which a wrapped buffer cannot
        var image = Image.LoadPixelData<Rgb24>(ImageDecoding.Configuration, decoded.Rgb, decoded.Width, decoded.Height);
        image.Metadata.ExifProfile = info.Metadata.ExifProfile?.DeepClone();
        return image;
    }

    /// <summary>
    /// Resize to cover width×height, then centre-crop (as the reference does). When that would resize to far more than
    /// is kept (a 1×16384 strip covering 3072² is a 3072×50-million-pixel intermediate: 26 s and 2 GB, or an
    /// allocation ImageSharp refuses), the same centre region is cropped in the image's own pixels first and only it is
    /// resized: the working set stays near the target's whatever the aspect ratio.
    /// </summary>
    private static void Fit(Image<Rgb24> image, int width, int height)
    {
        double scale = Math.Max((double)width / image.Width, (double)height / image.Height);
        long rw = Math.Max(width, (long)Math.Round(image.Width * scale));
        long rh = Math.Max(height, (long)Math.Round(image.Height * scale));
        var size = new Size(width, height);
        if (rw * rh > 4L * width * height)
        {
            double aspect = (double)width / height;
            bool wider = (double)image.Width / image.Height > aspect;
            int cw = wider ? Math.Clamp((int)Math.Round(image.Height * aspect), 1, image.Width) : image.Width;
            int ch = wider ? image.Height : Math.Clamp((int)Math.Round(image.Width / aspect), 1, image.Height);
            image.Mutate(x => x
                .Crop(new Rectangle((image.Width - cw) / 2, (image.Height - ch) / 2, cw, ch))
                .Resize(new ResizeOptions { Size = size, Sampler = KnownResamplers.Triangle, Mode = ResizeMode.Stretch }));
            return;
        }

        image.Mutate(x => x
            .Resize(new ResizeOptions { Size = new Size((int)rw, (int)rh), Sampler = KnownResamplers.Triangle, Mode = ResizeMode.Stretch })
            .Crop(new Rectangle(((int)rw - width) / 2, ((int)rh - height) / 2, width, height)));
    }

    private static float[] Normalize(Image<Rgb24> image, int width, int height)
    {
        var mean = new[] { 0.485f, 0.456f, 0.406f };
        var std = new[] { 0.229f, 0.224f, 0.225f };
        var result = new float[3 * width * height];
        int plane = width * height;
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                {
                    var p = row[x];
                    int i = y * width + x;
                    result[i] = (p.R / 255f - mean[0]) / std[0];
                    result[plane + i] = (p.G / 255f - mean[1]) / std[1];
                    result[2 * plane + i] = (p.B / 255f - mean[2]) / std[2];
                }
            }
        });
        return result;
    }

    /// <summary>A PNG's eXIf chunk: ImageDecoding skips PNG metadata (for its text chunks), and the orientation must stay.</summary>
    private static SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifProfile? PngExif(string path, byte[] bytes, SixLabors.ImageSharp.Formats.IImageFormat? format) =>
        format is SixLabors.ImageSharp.Formats.Png.PngFormat && PngText.Exif(path, bytes) is { } raw ? new SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifProfile(raw) : null;

    /// <summary>The file's bytes, through <see cref="BoundedFile"/>: a regular file of at most <see cref="MaxFileBytes"/>.</summary>
    private static byte[] ReadFile(string path)
    {
        try
        {
            return BoundedFile.ReadAllBytes(path, MaxFileBytes, "an image");
        }
        catch (FileNotFoundException)
        {
            throw new WuerstchenException("ImageFileNotFound", WuerstchenErrorKind.ObjectNotFound, $"The image file '{path}' does not exist.", path);
        }
        catch (FileBoundException ex) when (ex.TooLarge)
        {
            throw new WuerstchenException("ImageTooLarge", WuerstchenErrorKind.InvalidData,
                $"The image file '{path}' is {BoundedFile.Size(new FileInfo(path).Length)}; at most {BoundedFile.Size(MaxFileBytes)} are read.", path, ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new WuerstchenException("InvalidImageFile", WuerstchenErrorKind.InvalidData, $"The image '{path}' could not be read: {ex.Message}", path, ex);
        }
    }

    /// <summary>
    /// ImageSharp decodes a JPEG, GIF or WebP cut short without complaint (the missing part comes out grey), which would
    /// give an embedding of a partly grey picture. Each format says where it ends, so check that the end is there:
    /// JPEG an end-of-image marker after its last scan, GIF its trailer byte, WebP the length its RIFF header declares.
    /// (PNG: ImageSharp already fails on a missing IEND/CRC.)
    /// </summary>
    private static void CheckComplete(string path, byte[] bytes, string? format)
    {
        string? problem = format?.ToUpperInvariant() switch
        {
            "JPEG" => LastMarker(bytes, 0xD9) > LastMarker(bytes, 0xDA) ? null : "it has no end-of-image marker after its last scan",
            "GIF" => LastNonZero(bytes) is { } b && b == 0x3B ? null : "it has no GIF trailer",
            "WEBP" => bytes.Length >= 8 && 8L + BitConverter.ToUInt32(bytes, 4) <= bytes.Length ? null
                : $"its RIFF header declares {(bytes.Length >= 8 ? 8L + BitConverter.ToUInt32(bytes, 4) : 8)} bytes but the file has {bytes.Length}",
            _ => null,
        };
        if (problem is not null)
        {
            throw new WuerstchenException("InvalidImageFile", WuerstchenErrorKind.InvalidData,
                $"The image '{path}' is truncated or corrupt ({format}: {problem}); re-copy or re-export it.", path);
        }
    }

    private static long LastMarker(byte[] bytes, byte marker)
    {
        for (long i = bytes.Length - 2; i >= 0; i--)
        {
            if (bytes[i] == 0xFF && bytes[i + 1] == marker)
            {
                return i;
            }
        }

        return -1;
    }

    private static byte? LastNonZero(byte[] bytes)
    {
        for (int i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] != 0)
            {
                return bytes[i];
            }
        }

        return null;
    }

    private static void CheckSize(string path, int width, int height)
    {
        if (width < 1 || height < 1)
        {
            // a BMP header stores its sides as signed numbers: a negative one is a damaged file, not a large image
            throw new WuerstchenException("InvalidImageFile", WuerstchenErrorKind.InvalidData,
                $"The image '{TextExcerpt.Of(path, 200)}' is damaged: its header says {width}×{height} pixels, which is no image size. Re-copy or re-export it.", path);
        }

        if (width < 1 || height < 1 || width > MaxSide || height > MaxSide || (long)width * height > MaxPixels)
        {
            throw new WuerstchenException("ImageTooLarge", WuerstchenErrorKind.InvalidData,
                $"The image '{path}' is {width}×{height} pixels; at most {MaxSide} per side and {MaxPixels >> 20} megapixels are decoded.", path);
        }
    }

    /// <summary>
    /// A failure of ImageSharp on this file. A hostile or damaged file makes its decoders throw many types (a fuzz pass
    /// found NullReferenceException and ArgumentOutOfRangeException besides its own), so every exception but the
    /// module's own and a cancellation is the file's fault, reported as InvalidImageFile.
    /// </summary>
    private static bool IsDecodeFailure(Exception ex) =>
        ex is not (WuerstchenException or OperationCanceledException or StackOverflowException or AccessViolationException);

    private static WuerstchenException Invalid(string path, Exception ex) =>
        ex as WuerstchenException ?? (ex.Message.Contains("max allowed size", StringComparison.OrdinalIgnoreCase)
            // ImageSharp's own size limit (a BMP header of 100000×100000) says "bigger then the max allowed size": the
            // module's bounds say it in its words, as for every other format
            ? new WuerstchenException("ImageTooLarge", WuerstchenErrorKind.InvalidData,
                $"The image '{path}' has a header larger than images are decoded: at most {MaxSide} per side and {MaxPixels >> 20} megapixels.", path, ex)
            : new WuerstchenException("InvalidImageFile", WuerstchenErrorKind.InvalidData, $"The image '{path}' could not be read: {ex.Message}", path, ex));
}
