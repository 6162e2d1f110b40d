using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using Wuerstchen.Core.IO;
using Wuerstchen.Core.IO.Jpeg;
using Wuerstchen.Core.Preprocessing;
using Xunit;

namespace Wuerstchen.Core.Tests.Jpeg;

/// <summary>
/// The bounded loader with PIL-exact JPEG decoding (the CLIP image path): every check it had still applies, EXIF
/// orientation is applied after the decode, and a JPEG kind the decoder refuses falls back to ImageSharp and says so.
/// </summary>
public class JpegLoaderTests
{
    [Fact]
    public void A_JPEG_kind_the_decoder_refuses_is_decoded_by_ImageSharp_and_the_fallback_says_why()
    {
        var path = Path.Combine(JpegTestData.Dir, "refused-cmyk-16x16.jpg");
        using var fallbackImage = ImageLoader.LoadOriented(path, pillowJpeg: true, out var fallback);
        Assert.NotNull(fallback);
        Assert.Contains("4 colour components", fallback, StringComparison.Ordinal);
        using var imageSharp = ImageLoader.LoadOriented(path);
        Assert.True(Pixels(imageSharp).AsSpan().SequenceEqual(Pixels(fallbackImage)));
        ClipImagePreprocessor.Load(path, ClipImageSettings.Default, out var clipFallback);
        Assert.Equal(fallback, clipFallback);
    }

    [Fact]
    public void A_decodable_JPEG_reports_no_fallback_and_gives_Pillows_pixels()
    {
        const string File = "pil-q90-420-progressive-257x193.jpg";
        using var image = ImageLoader.LoadOriented(Path.Combine(JpegTestData.Dir, File), pillowJpeg: true, out var fallback);
        Assert.Null(fallback);
        Assert.Equal(JpegTestData.Case(File).GetProperty("sha256").GetString(), JpegTestData.Sha256(Pixels(image)));
    }

    /// <summary>Orientation 6 (turn 90° clockwise), as diffusers' load_image applies it with exif_transpose after PIL decodes.</summary>
    [Fact]
    public void EXIF_orientation_is_applied_to_the_PIL_exact_pixels()
    {
        using var temp = new TempFolder();
        const string File = "pil-q75-420-64x48.jpg";
        var data = JpegTestData.Read(File);
        var path = temp["oriented.jpg"];
        System.IO.File.WriteAllBytes(path, data[..2].Concat(ExifOrientation(6)).Concat(data[2..]).ToArray());
        Assert.Equal((48, 64), ImageLoader.Identify(path));
        var decoded = JpegDecoder.Decode(data, ImageLoader.MaxPixels);
        using var expected = Image.LoadPixelData<Rgb24>(decoded.Rgb, decoded.Width, decoded.Height);
        expected.Mutate(x => x.Rotate(RotateMode.Rotate90));
        using var actual = ImageLoader.LoadOriented(path, pillowJpeg: true, out var fallback);
        Assert.Null(fallback);
        Assert.Equal((48, 64), (actual.Width, actual.Height));
        Assert.True(Pixels(expected).AsSpan().SequenceEqual(Pixels(actual)));
    }

    [Fact]
    public void A_JPEG_cut_short_is_still_refused_before_decoding()
    {
        using var temp = new TempFolder();
        var data = JpegTestData.Read("pil-q90-420-progressive-257x193.jpg");
        var path = temp["cut.jpg"];
        File.WriteAllBytes(path, data[..(data.Length * 2 / 3)]);
        var ex = Assert.Throws<WuerstchenException>(() => ClipImagePreprocessor.Load(path, ClipImageSettings.Default));
        Assert.Equal("InvalidImageFile", ex.ErrorId);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>A file libjpeg refuses (here a component with a quantization table never defined) is InvalidImageFile, not a fallback.</summary>
    [Fact]
    public void A_JPEG_libjpeg_refuses_is_an_invalid_image_file()
    {
        using var temp = new TempFolder();
        var data = JpegTestData.Read("pil-q75-420-64x48.jpg");
        int sof = Array.FindIndex(data, 2, b => b == 0xC0) - 1;
        data[sof + 12] = 3;
        var path = temp["bad.jpg"];
        File.WriteAllBytes(path, data);
        var ex = Assert.Throws<WuerstchenException>(() => ClipImagePreprocessor.Load(path, ClipImageSettings.Default, out _));
        Assert.Equal("InvalidImageFile", ex.ErrorId);
        Assert.Contains("quantization table 3", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cancellation_reaches_the_decoder()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            ClipImagePreprocessor.Load(Path.Combine(JpegTestData.Dir, "pil-q75-420-64x48.jpg"), ClipImageSettings.Default, out _, cts.Token));
    }

    private static byte[] Pixels(Image<Rgb24> image)
    {
        var rgb = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(rgb);
        return rgb;
    }

    /// <summary>An APP1 Exif segment (big-endian TIFF) with one IFD entry: Orientation = <paramref name="value"/>.</summary>
    private static byte[] ExifOrientation(int value)
    {
        var tiff = new byte[] { (byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (byte)value, 0, 0, 0, 0, 0, 0 };
        var payload = "Exif\0\0"u8.ToArray().Concat(tiff).ToArray();
        int length = payload.Length + 2;
        return new byte[] { 0xFF, 0xE1, (byte)(length >> 8), (byte)length }.Concat(payload).ToArray();
    }
}
