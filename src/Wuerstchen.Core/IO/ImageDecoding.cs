using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Pbm;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tga;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata;

namespace Wuerstchen.Core.IO;

/// <summary>
/// The ImageSharp configuration user images are decoded with: only what an embedding needs, so a file cannot make the
/// decoder do work its header does not show. One frame of an animated GIF or a multi-page TIFF (each further frame
/// would be decoded at the full canvas size: 40 one-pixel frames of an 8000×8000 GIF are 40 × 256 MB); no PNG
/// metadata (a zTXt/iTXt chunk inflates without limit; the eXIf orientation, which goes with it, is read by
/// <see cref="PngText.Exif"/>). JPEG keeps its metadata: its EXIF orientation turns the picture, and its segments are
/// at most 64 KB each.
/// Its own instance: ImageSharp's default configuration is shared by everything in the process.
/// </summary>
internal static class ImageDecoding
{
    public static readonly Configuration Configuration = Create();

    private static Configuration Create()
    {
        var c = new Configuration(new PngConfigurationModule(), new JpegConfigurationModule(), new GifConfigurationModule(), new BmpConfigurationModule(),
            new PbmConfigurationModule(), new TgaConfigurationModule(), new TiffConfigurationModule(), new WebpConfigurationModule());
        c.ImageFormatsManager.SetDecoder(PngFormat.Instance, new PngDecoder { IgnoreMetadata = true });
        c.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First, MaxFrames = 1, IgnoreMetadata = true });
        c.ImageFormatsManager.SetDecoder(TiffFormat.Instance, new TiffDecoder { DecodingMode = FrameDecodingMode.First });
        return c;
    }
}
