using System.Diagnostics;
using Wuerstchen.Core.IO.Jpeg;
using Wuerstchen.Core.Preprocessing;
using Xunit;
using Xunit.Abstractions;

namespace Wuerstchen.Core.Tests.Jpeg;

/// <summary>
/// Damaged JPEGs: mutations of the fixtures (bit flips and bytes from the reader fuzz pass, cuts, repeats, junk, and
/// here also random segment lengths and flips inside the scan data). Each must decode or fail with the decoder's own
/// error — never another exception, a hang or an allocation beyond the frame. Seeded: a failure names the case.
/// </summary>
public class JpegFuzzTests
{
    private readonly ITestOutputHelper _output;

    public JpegFuzzTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// The decoder itself, with a 1-megapixel bound so that a mutated frame size stays quick to decode: 12,000 cases
    /// (a few seconds), or as many as WUERSTCHEN_JPEG_FUZZ says for a longer local run.
    /// </summary>
    [Fact]
    public void Mutated_JPEGs_decode_or_fail_with_the_decoders_error()
    {
        var seeds = Seeds();
        int count = int.TryParse(Environment.GetEnvironmentVariable("WUERSTCHEN_JPEG_FUZZ"), out int n) ? n : 12_000;
        var watch = Stopwatch.StartNew();
        int decoded = 0, invalid = 0, refused = 0;
        for (int i = 0; i < count; i++)
        {
            var random = new Random(i);
            var input = Mutate(seeds[i % seeds.Count], random);
            var one = Stopwatch.StartNew();
            try
            {
                var image = JpegDecoder.Decode(input, 1 << 20);
                Assert.Equal((long)image.Width * image.Height * 3, image.Rgb.Length);
                decoded++;
            }
            catch (JpegDecodeException ex)
            {
                Assert.True(ex.Message.Length < 300, ex.Message);
                (ex.Unsupported ? ref refused : ref invalid)++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"mutation #{i} (seed file {i % seeds.Count}, Random({i})): {ex.GetType().FullName}: {ex.Message}\n{ex.StackTrace}");
            }

            Assert.True(one.Elapsed < TimeSpan.FromSeconds(5), $"mutation #{i} took {one.Elapsed.TotalSeconds:0.0} s (a hang?)");
        }

        _output.WriteLine($"{count} mutations: {decoded} decoded, {invalid} invalid, {refused} refused, {watch.Elapsed.TotalSeconds:0.0} s");
        Assert.True(decoded > 0 && invalid > 0, "the mutations do not reach both outcomes");
    }

    /// <summary>Through the CLIP image path: the module's own errors only (InvalidImageFile, ImageTooLarge).</summary>
    [Fact]
    public void Mutated_JPEG_image_prompts_give_pixel_values_or_an_image_error()
    {
        using var temp = new TempFolder();
        var path = temp["fuzz.jpg"];
        var seeds = Seeds();
        var settings = ClipImageSettings.Default with { ShortestEdge = 32, CropHeight = 32, CropWidth = 32 };
        int loaded = 0, errors = 0;
        for (int i = 0; i < 300; i++)
        {
            File.WriteAllBytes(path, Mutate(seeds[i % seeds.Count], new Random(100_000 + i)));
            try
            {
                Assert.Equal(3 * 32 * 32, ClipImagePreprocessor.Load(path, settings, out _).Length);
                loaded++;
            }
            catch (WuerstchenException ex) when (ex.ErrorId is "InvalidImageFile" or "ImageTooLarge")
            {
                errors++;
            }
        }

        _output.WriteLine($"300 mutations: {loaded} loaded, {errors} refused");
        Assert.True(loaded > 0 && errors > 0);
    }

    private static List<byte[]> Seeds() =>
        JpegTestData.Cases.Where(c => !c.TryGetProperty("refused", out _)).Select(c => JpegTestData.Read(c.GetProperty("file").GetString()!)).ToList();

    /// <summary>The reader fuzz pass's mutations, or one of the JPEG-specific ones.</summary>
    private static byte[] Mutate(byte[] seed, Random random)
    {
        switch (random.Next(4))
        {
            case 0:
                return ReaderFuzzTests.Mutate(seed, random);
            case 1:
                // a segment's length word replaced: the reader must not follow it anywhere it should not
                var bytes = (byte[])seed.Clone();
                var lengths = SegmentLengths(bytes);
                int at = lengths[random.Next(lengths.Count)];
                bytes[at] = (byte)random.Next(256);
                bytes[at + 1] = (byte)random.Next(256);
                return bytes;
            case 2:
                // a few bit flips inside the scan data (after the first SOS): corrupt codes, markers, runs
                bytes = (byte[])seed.Clone();
                int start = Array.IndexOf(bytes, (byte)0xDA) + 1;
                for (int k = random.Next(1, 4); k > 0 && start < bytes.Length - 2; k--)
                {
                    bytes[random.Next(start, bytes.Length - 2)] ^= (byte)(1 << random.Next(8));
                }

                return bytes;
            default:
                // a frame or scan header byte set to an extreme
                bytes = (byte[])seed.Clone();
                int sof = Math.Max(0, Array.FindIndex(bytes, 2, b => b is 0xC0 or 0xC1 or 0xC2));
                int k2 = Math.Min(bytes.Length - 1, sof + random.Next(1, 20));
                bytes[k2] = new byte[] { 0, 1, 0xFF, 0x7F, 0x80, 0x11, 0x44, 0x22 }[random.Next(8)];
                return bytes;
        }
    }

    /// <summary>The offsets of the length words of the segments before the first scan.</summary>
    private static List<int> SegmentLengths(byte[] data)
    {
        var found = new List<int>();
        int i = 2;
        while (i + 3 < data.Length && data[i] == 0xFF)
        {
            found.Add(i + 2);
            if (data[i + 1] == 0xDA)
            {
                break;
            }

            i += 2 + (data[i + 2] << 8 | data[i + 3]);
        }

        return found.Count > 0 ? found : new List<int> { 2 };
    }
}
