using System.Text.Json;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Wuerstchen.Core.IO;
using Wuerstchen.Core.Preprocessing;
using Xunit;

namespace Wuerstchen.Core.Tests.Preprocessing;

/// <summary>
/// The whole processor against make_fixtures.py's re-implementation of transformers' CLIPImageProcessor steps (which
/// agrees with the realarch kit's replica of transformers' eager path on every case): decoded pixels, the cropped
/// uint8 image and pixel_values compared bit for bit (sha256 of the float32 bytes), for PNGs of every colour type
/// users bring (RGB, RGBA with coloured transparent pixels, gray, gray + alpha, palette with transparency, an EXIF
/// orientation) and settings beyond the defaults (other sizes and filters, padding, scalar mean, steps off).
/// </summary>
public class ClipImagePreprocessorTests
{
    public static TheoryData<string> LosslessCases => ClipFixtures.Names(ClipFixtures.ProcessorCases, c => !IsJpeg(c));

    public static TheoryData<string> JpegCases => ClipFixtures.Names(ClipFixtures.ProcessorCases, IsJpeg);

    public static TheoryData<string> CropCases => ClipFixtures.Names(ClipFixtures.ProcessorCases, c => c.TryGetProperty("cropFile", out _));

    [Theory]
    [MemberData(nameof(LosslessCases))]
    public void Decoded_pixels_are_Pillows_convert_RGB(string name)
    {
        var c = ClipFixtures.ProcessorCase(name);
        var (rgb, width, height) = ClipFixtures.Decode(ClipFixtures.PathOf(c.GetProperty("file").GetString()!));
        Assert.Equal((c.GetProperty("decodedWidth").GetInt32(), c.GetProperty("decodedHeight").GetInt32()), (width, height));
        Assert.Equal(c.GetProperty("decodedSha256").GetString(), ClipFixtures.Sha256(rgb));
    }

    [Theory]
    [MemberData(nameof(LosslessCases))]
    public void Pixel_values_are_transformers_bit_for_bit(string name)
    {
        var c = ClipFixtures.ProcessorCase(name);
        var settings = ClipFixtures.Settings(c);
        var values = ClipImagePreprocessor.Load(ClipFixtures.PathOf(c.GetProperty("file").GetString()!), settings);
        AssertShape(c, values, settings);
        Assert.Equal(c.GetProperty("pixelValuesSha256").GetString(), ClipFixtures.Sha256(values));
    }

    /// <summary>JPEG files decode differently (see ClipJpegDecodeTests); PIL's decoded pixels through the processor are exact.</summary>
    [Theory]
    [MemberData(nameof(JpegCases))]
    public void Pixel_values_of_Pillows_JPEG_pixels_are_transformers_bit_for_bit(string name)
    {
        var c = ClipFixtures.ProcessorCase(name);
        var (rgb, width, height) = ClipFixtures.Decode(ClipFixtures.PathOf(PilDecoded(c.GetProperty("file").GetString()!)));
        Assert.Equal(c.GetProperty("decodedSha256").GetString(), ClipFixtures.Sha256(rgb));
        var settings = ClipFixtures.Settings(c);
        var values = ClipImagePreprocessor.Process(rgb, width, height, settings);
        AssertShape(c, values, settings);
        Assert.Equal(c.GetProperty("pixelValuesSha256").GetString(), ClipFixtures.Sha256(values));
    }

    /// <summary>The uint8 image after resize and crop, byte for byte (the diagnostic view of the hash tests above).</summary>
    [Theory]
    [MemberData(nameof(CropCases))]
    public void Cropped_image_is_transformers_byte_for_byte(string name)
    {
        var c = ClipFixtures.ProcessorCase(name);
        var raw = ClipFixtures.Settings(c) with { DoRescale = false, DoNormalize = false };
        var values = ClipImagePreprocessor.Load(ClipFixtures.PathOf(c.GetProperty("file").GetString()!), raw);
        var (h, w) = (c.GetProperty("shape")[1].GetInt32(), c.GetProperty("shape")[2].GetInt32());
        var actual = ClipFixtures.ToHwcBytes(values, h, w);
        using var crop = Image.Load<Rgb24>(ClipFixtures.PathOf(c.GetProperty("cropFile").GetString()!));
        var expected = new byte[w * h * 3];
        crop.CopyPixelDataTo(expected);
        Assert.Equal(c.GetProperty("croppedSha256").GetString(), ClipFixtures.Sha256(expected));
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"{name}: {ClipFixtures.Differences(expected, actual, w)}");
    }

    /// <summary>Every byte value's float32 after rescale and normalise with the defaults, against numpy's, bit for bit.</summary>
    [Fact]
    public void Rescale_and_normalise_are_numpys_float32_for_every_byte()
    {
        var expected = File.ReadAllBytes(ClipFixtures.PathOf("normalize.bin"));
        var table = ClipImagePlan.ValueTable(ClipImageSettings.Default);
        for (int i = 0; i < table.Length; i++)
        {
            float e = BitConverter.ToSingle(expected, 4 * i);
            Assert.True(BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(table[i]), $"channel {i / 256} byte {i % 256}: numpy {e:R}, here {table[i]:R}");
        }
    }

    /// <summary>convert("RGB") drops alpha without compositing: a pixel with alpha 0 keeps its colour (the fixture's left fifth).</summary>
    [Fact]
    public void Transparent_pixels_keep_their_colour()
    {
        using var rgba = Image.Load<Rgba32>(ClipFixtures.PathOf("alpha-150x120.png"));
        var (rgb, width, _) = ClipFixtures.Decode(ClipFixtures.PathOf("alpha-150x120.png"));
        var p = rgba[5, 40];
        Assert.Equal(0, p.A);
        Assert.NotEqual((0, 0, 0), (p.R, p.G, p.B));
        int i = (40 * width + 5) * 3;
        Assert.Equal((p.R, p.G, p.B), (rgb[i], rgb[i + 1], rgb[i + 2]));
    }

    /// <summary>
    /// A 1×16384 strip resizes to 224×3.7 million pixels in transformers; here only the crop's part is computed, so it
    /// takes little memory and time. A 4096² image is read row by row without a whole copy.
    /// </summary>
    [Theory]
    [InlineData(1, 16384)]
    [InlineData(16384, 1)]
    [InlineData(4096, 4096)]
    public void Large_and_extreme_images_take_memory_near_the_output(int width, int height)
    {
        var rgb = ClipFixtures.Noise(width, height, 5);
        var settings = ClipImageSettings.Default;
        ClipImagePreprocessor.Process(rgb.AsSpan(0, 3 * 8 * 8), 8, 8, settings); // JIT outside the measurement
        long before = GC.GetAllocatedBytesForCurrentThread();
        var values = ClipImagePreprocessor.Process(rgb, width, height, settings);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(3 * 224 * 224, values.Length);
        long outputBytes = values.Length * 4L;
        Assert.True(allocated < outputBytes + Math.Max(rgb.Length / 10, 1L << 20), $"{width}×{height}: {allocated} bytes allocated for a {outputBytes}-byte output from {rgb.Length} bytes");
    }

    [Fact]
    public void Wrong_buffer_length_and_sizes_are_refused()
    {
        var settings = ClipImageSettings.Default;
        Assert.Throws<ArgumentException>(() => ClipImagePreprocessor.Process(new byte[10], 2, 2, settings));
        var tooLarge = Assert.Throws<WuerstchenException>(() => ClipImagePreprocessor.Process(new byte[3], 1, ImageLoader.MaxSide + 1, settings));
        Assert.Equal("ImageTooLarge", tooLarge.ErrorId);
        var empty = Assert.Throws<WuerstchenException>(() => ClipImagePreprocessor.Process(Array.Empty<byte>(), 0, 5, settings));
        Assert.Equal("ImageTooLarge", empty.ErrorId);
        var noCrop = Assert.Throws<WuerstchenException>(() => ClipImagePreprocessor.Process(new byte[3 * 4096], 1, 4096, settings with { DoCenterCrop = false }));
        Assert.Equal("ImageTooLarge", noCrop.ErrorId); // 224 × 917504 pixel values without a crop to bound them
    }

    [Fact]
    public void Missing_file_is_ImageFileNotFound_and_junk_is_InvalidImageFile()
    {
        using var tmp = new TempFolder();
        var missing = Assert.Throws<WuerstchenException>(() => ClipImagePreprocessor.Load(tmp["none.png"], ClipImageSettings.Default));
        Assert.Equal("ImageFileNotFound", missing.ErrorId);
        File.WriteAllText(tmp["junk.png"], "not an image");
        var junk = Assert.Throws<WuerstchenException>(() => ClipImagePreprocessor.Load(tmp["junk.png"], ClipImageSettings.Default));
        Assert.Equal("InvalidImageFile", junk.ErrorId);
    }

    [Fact]
    public void Settings_built_in_code_are_checked()
    {
        var rgb = new byte[3 * 4 * 4];
        Assert.Throws<ArgumentException>(() => ClipImagePreprocessor.Process(rgb, 4, 4, ClipImageSettings.Default with { Resample = PilFilter.Nearest }));
        Assert.Throws<ArgumentException>(() => ClipImagePreprocessor.Process(rgb, 4, 4, ClipImageSettings.Default with { Std = new[] { 1f, 0f, 1f } }));
        Assert.Throws<ArgumentException>(() => ClipImagePreprocessor.Process(rgb, 4, 4, ClipImageSettings.Default with { ResizeHeight = 5 }));
        Assert.Throws<ArgumentException>(() => ClipImagePreprocessor.Load("never-read.png", ClipImageSettings.Default with { CropWidth = 0 }));
    }

    internal static bool IsJpeg(JsonElement c) => c.GetProperty("file").GetString()!.EndsWith(".jpg", StringComparison.Ordinal);

    internal static string PilDecoded(string jpeg) => jpeg[..^4] + ".pil.png";

    private static void AssertShape(JsonElement c, float[] values, ClipImageSettings settings)
    {
        var shape = c.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(shape[0] * shape[1] * shape[2], values.Length);
        var (w, h) = (c.GetProperty("decodedWidth").GetInt32(), c.GetProperty("decodedHeight").GetInt32());
        Assert.Equal((shape[1], shape[2]), ClipImagePreprocessor.OutputSize(w, h, settings));
    }
}
