using Wuerstchen.Core.Preprocessing;
using Xunit;
using Xunit.Abstractions;

namespace Wuerstchen.Core.Tests.Preprocessing;

/// <summary>
/// JPEG files: diffusers decodes them with PIL (libjpeg-turbo), the module with ImageSharp's own decoder, and the two
/// do not give the same pixels. These tests measure the difference on photo-like JPEGs at qualities 75/90/95 with
/// 4:2:0 and 4:4:4 chroma subsampling (the fixtures) and hold it to what was measured: they state the difference,
/// they do not hide it. Everything after the decode is exact (ClipImagePreprocessorTests).
/// </summary>
public class ClipJpegDecodeTests
{
    private readonly ITestOutputHelper output;

    public ClipJpegDecodeTests(ITestOutputHelper output) => this.output = output;

    public static TheoryData<string> JpegFiles
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var file in ClipFixtures.ProcessorCases.Where(ClipImagePreprocessorTests.IsJpeg).Select(c => c.GetProperty("file").GetString()!).Distinct())
            {
                data.Add(file);
            }

            return data;
        }
    }

    /// <summary>
    /// The decoded bytes, and the pixel values (ImageSharp's pixels through the exact processor against PIL's pixels
    /// through it), differ by no more than was measured on these fixtures for the file's chroma subsampling (max and
    /// mean absolute difference; a level is 1/255/std ≈ 0.015 in pixel values). The cause, found with libjpeg-turbo
    /// itself: ImageSharp 2.1 decodes exactly as libjpeg's float IDCT without "fancy" (triangular) chroma upsampling
    /// (0 levels apart), PIL uses the integer islow IDCT with fancy upsampling. 4:4:4 shows the IDCT alone.
    /// These 48×64 fixtures are upscaled to the crop, the worst case; docs/clip-image-preprocessing.md has photo sizes.
    /// </summary>
    [Theory]
    [MemberData(nameof(JpegFiles))]
    public void ImageSharp_JPEG_pixels_differ_from_Pillows_by_the_measured_bound(string file)
    {
        var (mine, width, height) = ClipFixtures.Decode(ClipFixtures.PathOf(file));
        var (pil, pilWidth, pilHeight) = ClipFixtures.Decode(ClipFixtures.PathOf(ClipImagePreprocessorTests.PilDecoded(file)));
        Assert.Equal((pilWidth, pilHeight), (width, height));
        var bound = file.Contains("-420-", StringComparison.Ordinal) ? Subsampled : FullChroma;
        var (max, mean, share) = Compare(pil.Select(b => (float)b).ToArray(), mine.Select(b => (float)b).ToArray());
        output.WriteLine($"{file}: decoded RGB max {max} levels, mean {mean:F3}, {share:P1} of the bytes differ");
        Assert.True(max <= bound.DecodeMax && mean <= bound.DecodeMean, $"{file}: decoded bytes differ by up to {max} levels, {mean:F3} on average");
        foreach (var (label, settings) in Settings)
        {
            var expected = ClipImagePreprocessor.Process(pil, width, height, settings);
            var actual = ClipImagePreprocessor.Process(mine, width, height, settings);
            var (pvMax, pvMean, pvShare) = Compare(expected, actual);
            output.WriteLine($"{file} {label}: pixel_values max {pvMax:F4}, mean {pvMean:F5}, {pvShare:P1} differ");
            Assert.True(pvMax <= bound.ValuesMax && pvMean <= bound.ValuesMean, $"{file} {label}: pixel values differ by up to {pvMax}, {pvMean:F5} on average");
        }
    }

    /// <summary>The worst figures measured on the fixtures (q75/90/95), per chroma subsampling.</summary>
    private static readonly (float DecodeMax, double DecodeMean, float ValuesMax, double ValuesMean) Subsampled = (14, 2.02, 0.234f, 0.0252);
    private static readonly (float DecodeMax, double DecodeMean, float ValuesMax, double ValuesMean) FullChroma = (3, 0.049, 0.043f, 0.0009);

    private static readonly (string, ClipImageSettings)[] Settings =
    {
        ("s56", ClipImageSettings.Default with { ShortestEdge = 56, CropHeight = 56, CropWidth = 56 }),
        ("default-224", ClipImageSettings.Default),
    };

    private static (float Max, double Mean, double Share) Compare(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = 0;
        double sum = 0;
        int differing = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            float d = Math.Abs(expected[i] - actual[i]);
            max = Math.Max(max, d);
            sum += d;
            differing += d > 0 ? 1 : 0;
        }

        return (max, sum / expected.Length, (double)differing / expected.Length);
    }
}
