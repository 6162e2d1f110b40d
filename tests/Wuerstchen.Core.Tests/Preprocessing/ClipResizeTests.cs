using System.Text.Json;
using Wuerstchen.Core.Preprocessing;
using Xunit;

namespace Wuerstchen.Core.Tests.Preprocessing;

/// <summary>
/// The resize step against Pillow's Image.resize (8-bit, reducing_gap=None, as transformers calls it) on noise, whose
/// every value and neighbourhood differs, so every rounding of the fixed-point weights and both ends of the clamp
/// are reached: down- and upscaling by non-integer factors, one side unchanged (Pillow skips that pass), extreme
/// aspect ratios, each filter the settings accept.
/// </summary>
public class ClipResizeTests
{
    public static TheoryData<string> Cases => ClipFixtures.Names(ClipFixtures.ResizeCases);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Resize_matches_Pillow_byte_for_byte(string name)
    {
        var c = ClipFixtures.ResizeCase(name);
        var expected = Expected(c);
        var actual = Resize(c, c.GetProperty("filter").GetInt32());
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"{name}: {ClipFixtures.Differences(expected, actual, c.GetProperty("outWidth").GetInt32())}");
    }

    [Fact]
    public void Noise_sources_are_the_fixture_scripts()
    {
        foreach (var c in ClipFixtures.ResizeCases)
        {
            var source = ClipFixtures.Noise(c.GetProperty("width").GetInt32(), c.GetProperty("height").GetInt32(), c.GetProperty("seed").GetInt32());
            Assert.Equal(c.GetProperty("sourceSha256").GetString(), ClipFixtures.Sha256(source));
        }
    }

    /// <summary>The fixtures tell the filters apart: another filter on the same resize is not Pillow's output (not even close to it).</summary>
    [Theory]
    [InlineData("down-bicubic-257x193-47x35", PilFilter.Bilinear)]
    [InlineData("up-bicubic-37x23-53x33", PilFilter.Lanczos)]
    [InlineData("down-bilinear-150x100-42x28", PilFilter.Hamming)]
    [InlineData("down-box-97x89-23x20", PilFilter.Bilinear)]
    [InlineData("vertical-only-bicubic-48x41-48x29", PilFilter.Bilinear)]
    public void Another_filter_does_not_match_Pillow(string name, int otherFilter)
    {
        var c = ClipFixtures.ResizeCase(name);
        var expected = Expected(c);
        var actual = Resize(c, otherFilter);
        int differing = expected.Zip(actual).Count(p => p.First != p.Second);
        Assert.True(differing > expected.Length / 4, $"{name} with filter {otherFilter}: only {differing} of {expected.Length} bytes differ");
    }

    /// <summary>
    /// Only the part of the resized image the crop keeps is computed; it must be the same as resizing everything and
    /// cropping (here on sizes where both are cheap), including the zero border where the crop is larger.
    /// </summary>
    [Theory]
    [InlineData(257, 193, 56, 56, 56)]
    [InlineData(193, 257, 40, 33, 40)]
    [InlineData(31, 300, 24, 30, 16)]
    [InlineData(300, 7, 9, 12, 31)]
    public void Cropping_before_resizing_equals_resizing_then_cropping(int width, int height, int edge, int cropHeight, int cropWidth)
    {
        var source = ClipFixtures.Noise(width, height, 99);
        var raw = ClipImageSettings.Default with { ShortestEdge = edge, DoRescale = false, DoNormalize = false, CropHeight = cropHeight, CropWidth = cropWidth };
        var full = ClipImagePreprocessor.Process(source, width, height, raw with { DoCenterCrop = false });
        var (rh, rw) = ClipImagePreprocessor.OutputSize(width, height, raw with { DoCenterCrop = false });
        var cropped = ClipImagePreprocessor.Process(source, width, height, raw);
        int top = (int)Math.Floor((rh - cropHeight) / 2.0), left = (int)Math.Floor((rw - cropWidth) / 2.0);
        for (int ch = 0; ch < 3; ch++)
        {
            for (int r = 0; r < cropHeight; r++)
            {
                for (int c = 0; c < cropWidth; c++)
                {
                    int y = top + r, x = left + c;
                    float expected = y >= 0 && y < rh && x >= 0 && x < rw ? full[(ch * rh + y) * rw + x] : 0f;
                    Assert.Equal(expected, cropped[(ch * cropHeight + r) * cropWidth + c]);
                }
            }
        }
    }

    /// <summary>The output size rule: transformers' int(s · long / short) for the other side.</summary>
    [Theory]
    [InlineData(300, 200, 56, 84, 56)]
    [InlineData(200, 300, 56, 56, 84)]
    [InlineData(257, 193, 224, 298, 224)]
    [InlineData(1, 16384, 224, 224, 3670016)]
    [InlineData(333, 333, 224, 224, 224)]
    [InlineData(1000, 999, 7, 7, 7)]
    public void Shortest_edge_size_truncates_like_Python(int width, int height, int edge, int expectedWidth, int expectedHeight)
    {
        var settings = ClipImageSettings.Default with { ShortestEdge = edge, DoCenterCrop = false };
        Assert.Equal((expectedWidth, expectedHeight), ClipImagePlan.ResizedSize(width, height, settings));
    }

    private static byte[] Expected(JsonElement c)
    {
        int offset = c.GetProperty("offset").GetInt32(), length = c.GetProperty("outWidth").GetInt32() * c.GetProperty("outHeight").GetInt32() * 3;
        var expected = File.ReadAllBytes(ClipFixtures.PathOf("resize.bin")).AsSpan(offset, length).ToArray();
        Assert.Equal(c.GetProperty("sha256").GetString(), ClipFixtures.Sha256(expected));
        return expected;
    }

    private static byte[] Resize(JsonElement c, int filter)
    {
        int w = c.GetProperty("width").GetInt32(), h = c.GetProperty("height").GetInt32();
        int ow = c.GetProperty("outWidth").GetInt32(), oh = c.GetProperty("outHeight").GetInt32();
        var source = ClipFixtures.Noise(w, h, c.GetProperty("seed").GetInt32());
        var values = ClipImagePreprocessor.Process(source, w, h, ClipFixtures.ResizeOnly(ow, oh, filter));
        return ClipFixtures.ToHwcBytes(values, oh, ow);
    }
}
