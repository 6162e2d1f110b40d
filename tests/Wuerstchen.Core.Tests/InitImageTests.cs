using Wuerstchen.Core.IO;
using Wuerstchen.Core.Noise;
using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// img2img (<see cref="InitImage"/>, docs/img2img.md) on the v2 stand-ins, which have an EfficientNet encoder: the edges
/// of the strength exactly (1: text-to-image bit for bit; 0: the image's embedding unchanged) and, in between, the first
/// prior step's input against a float64 re-computation of the DDPM-Würstchen forward process.
/// </summary>
public class InitImageTests
{
    private static string Photo(TempFolder tmp)
    {
        var path = tmp["photo.png"];
        var rgb = new byte[300 * 200 * 3];
        for (int i = 0; i < rgb.Length; i++)
        {
            rgb[i] = (byte)((i * 37 / 3 % 300) * 255 / 300 ^ (i % 3 * 60));
        }

        AtomicFile.Write(path, false, s => PngImage.Write(s, rgb, 300, 200, Array.Empty<KeyValuePair<string, string>>()));
        return path;
    }

    private static PriorSettings Request(string? init = null, double? strength = null, int steps = 10) => new()
    {
        Prompts = new[] { "a harbour", "a field" },
        ImagesPerPrompt = 2,
        Width = 512,
        Height = 384,
        Seed = 77,
        PriorSteps = steps,
        PriorGuidanceScale = 3f,
        InitImage = init,
        Strength = strength,
    };

    [Fact]
    public void StrengthOneIsTextToImageBitForBit()
    {
        using var tmp = new TempFolder();
        var pipeline = ParityJobs.Pipeline();
        var plain = pipeline.RunPrior(Request());
        var one = pipeline.RunPrior(Request(Photo(tmp), 1.0));
        Assert.Equal(plain.Count, one.Count);
        for (int r = 0; r < plain.Count; r++)
        {
            Assert.Equal(plain[r].Data, one[r].Data);
            Assert.Equal(plain[r].Stream!.State, one[r].Stream!.State);
        }

        Assert.Equal("photo.png", one[0].InitImage);
        Assert.Equal(1.0, one[0].Strength);
    }

    [Fact]
    public void StrengthZeroReturnsTheEncodedEmbeddingUnchanged()
    {
        using var tmp = new TempFolder();
        var photo = Photo(tmp);
        var pipeline = ParityJobs.Pipeline();
        var encoded = pipeline.EncodeImage(photo, 512, 384, 1);
        var steps = new List<PipelineProgress>();
        var observed = new WuerstchenPipeline(pipeline.Model, pipeline.Execution) { Progress = steps.Add };
        var zero = observed.RunPrior(Request(photo, 0.0));
        Assert.Equal(4, zero.Count);
        Assert.All(zero, e => Assert.Equal(encoded.Data, e.Data));
        Assert.Empty(steps); // no prior step ran
        // the noise stream still moved past the initial draw, as in text-to-image, so the decoder's noise is the same
        var plain = pipeline.RunPrior(Request() with { PriorSteps = 1 });
        Assert.NotEqual(plain[0].Stream!.State, zero[0].Stream!.State);
    }

    [Theory]
    [InlineData(0.6, 10, 6)]
    [InlineData(0.7, 10, 7)]  // read as a double, as diffusers does: (int)(10 · 0.7f) would be 6
    [InlineData(0.57, 100, 56)] // 100 · 0.57 = 56.99999999999999 in double: 56, as Python's int() gives
    [InlineData(0.05, 10, 0)]
    public void TheStepsThatRunAreFloorOfStepsTimesStrength(double strength, int steps, int expected)
    {
        Assert.Equal(expected, InitImage.StepsFor(steps, strength));
    }

    [Fact]
    public void TheFirstStepStartsFromTheForwardNoisedImage()
    {
        using var tmp = new TempFolder();
        var photo = Photo(tmp);
        var pipeline = ParityJobs.Pipeline();
        float[]? start = null;
        float startT = -1;
        var progress = new List<PipelineProgress>();
        var observed = new WuerstchenPipeline(pipeline.Model, pipeline.Execution)
        {
            PriorStartObserved = (x, t) => { start = (float[])x.Clone(); startT = t; },
            Progress = progress.Add,
        };
        var request = Request(photo, 0.6);
        observed.RunPrior(request);
        Assert.Equal(6, progress.Count(p => p.Phase == "Prior"));
        Assert.Equal(0.6f, startT, 6); // t_(10 − 6) of linspace(1, 0, 11)

        // float64: x0 = (E + 1) / 42, ε the seed's first draw, ᾱ(t) = cos²((t + s)/(1 + s)·π/2) / cos²(s/(1 + s)·π/2) clamped
        var e = pipeline.EncodeImage(photo, 512, 384, 1).Data;
        var eps = new TorchGenerator(77).Randn(start!.Length);
        double s = 0.008, t = startT;
        double alpha = Math.Pow(Math.Cos((t + s) / (1 + s) * Math.PI / 2), 2) / Math.Pow(Math.Cos(s / (1 + s) * Math.PI / 2), 2);
        alpha = Math.Clamp(alpha, 1e-4, 0.9999);
        double worst = 0, scale = 0;
        for (int i = 0; i < start.Length; i++)
        {
            double x0 = (e[i % e.Length] + 1.0) / 42.0;
            double expected = Math.Sqrt(alpha) * x0 + Math.Sqrt(1 - alpha) * eps[i];
            worst = Math.Max(worst, Math.Abs(start[i] - expected));
            scale = Math.Max(scale, Math.Abs(expected));
        }

        Assert.True(worst <= 1e-6 * scale, $"start latents differ from the float64 forward process by {worst} (scale {scale})");
        // and the image matters: the start is not the text-to-image noise
        Assert.True(start.Zip(eps).Max(p => Math.Abs(p.First - p.Second)) > 0.1);
    }

    [Fact]
    public void StrengthOutOfRangeOrWithoutAnImageIsRefused()
    {
        var bad = Assert.Throws<WuerstchenException>(() => Request("x.png", 1.5).Validate());
        Assert.Equal("InvalidStrength", bad.ErrorId);
        Assert.Equal("InvalidStrength", Assert.Throws<WuerstchenException>(() => Request("x.png", double.NaN).Validate()).ErrorId);
        Assert.Equal("StrengthWithoutInitImage", Assert.Throws<WuerstchenException>(() => Request(null, 0.5).Validate()).ErrorId);
    }
}
