using Wuerstchen.Core.IO;
using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// Issue 21, "bounded by construction": what a request may ask for (batch memory, decoded sizes, timestep lists, the
/// model's constants) is refused up front with the engine's error ids, whichever door it comes through.
/// </summary>
public class BoundedRequestTests
{
    private static WuerstchenPipeline Pipeline(string? model = null) =>
        new(ModelFolder.Open(model ?? TestPaths.StandinModels), ExecutionOptions.Cpu, new SessionCache());

    private static float[] Descending(int count) => Enumerable.Range(0, count).Select(i => 1f - (float)i / (count - 1)).ToArray();

    [Fact]
    public void PriorSettings_TimestepsLongerThanTheStepCap_AreInvalidTimesteps()
    {
        var settings = new PriorSettings { Prompts = new[] { "p" }, PriorTimesteps = Descending(20_001) };
        var ex = Assert.Throws<WuerstchenException>(settings.Validate);
        Assert.Equal("InvalidTimesteps", ex.ErrorId);
        Assert.Contains("20001", ex.Message);
        Assert.Contains("1000", ex.Message);
        settings = settings with { PriorTimesteps = Descending(1001) }; // 1000 steps: the cap itself is allowed
        settings.Validate();
    }

    [Fact]
    public void DecoderSettings_TimestepsLongerThanTheStepCap_AreInvalidTimesteps()
    {
        var ex = Assert.Throws<WuerstchenException>(new DecoderSettings { DecoderTimesteps = Descending(1002) }.Validate);
        Assert.Equal("InvalidTimesteps", ex.ErrorId);
        Assert.Contains("DecoderTimesteps", ex.Message);
    }

    [Fact]
    public void RunDecoder_AnEmbeddingThatDecodesPastTheLargestImage_IsInvalidImageSize()
    {
        // 16×150×150 (1.4 MB) decodes to 6400×6400: the size rule of -Width/-Height applies to it too
        var e = new GenerationParameters { Prompt = "big" }.ToEmbedding(new[] { 16, 150, 150 }, new float[16 * 150 * 150]);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel(); // were it accepted, nothing would run
        var ex = Assert.Throws<WuerstchenException>(() => Pipeline().RunDecoder(new[] { e }, new DecoderSettings(), cancelled.Token));
        Assert.Equal("InvalidImageSize", ex.ErrorId);
        Assert.Equal(WuerstchenErrorKind.InvalidArgument, ex.Kind);
        Assert.Contains("6400", ex.Message);
        Assert.Contains("4096", ex.Message);
    }

    [Theory]
    [InlineData("resolution_multiple", "1e-300")]
    [InlineData("resolution_multiple", "1e300")]
    [InlineData("latent_dim_scale", "1e-300")]
    [InlineData("latent_dim_scale", "1e300")]
    public void ModelConfig_AConstantThatMakesEverySizeImpossible_IsInvalidModelIndex(string key, string value)
    {
        using var tmp = new TempFolder();
        File.WriteAllText(tmp["model_index.json"], $"{{\"{key}\": {value}}}");
        var ex = Assert.Throws<WuerstchenException>(() => ModelConfig.Load(tmp.Path));
        Assert.Equal("InvalidModelIndex", ex.ErrorId);
        Assert.Contains(key, ex.Message);
    }

    [Fact]
    public void Generate_ABatchLargerThanTheMachine_IsBatchTooLargeBeforeAnythingLoads()
    {
        var cache = new SessionCache();
        var pipeline = new WuerstchenPipeline(ModelFolder.Open(TestPaths.StandinModels), ExecutionOptions.Cpu, cache);
        var prior = new PriorSettings { Prompts = Enumerable.Repeat("p", 256).ToArray(), ImagesPerPrompt = 64, Width = 4096, Height = 4096, PriorSteps = 2 };
        var ex = Assert.Throws<WuerstchenException>(() => pipeline.Generate(prior, new DecoderSettings { DecoderSteps = 2 }));
        Assert.Equal("BatchTooLarge", ex.ErrorId);
        Assert.Contains("16384 images", ex.Message);
        Assert.Contains("GiB", ex.Message);
        Assert.Contains("ImagesPerPrompt", ex.Message);
        Assert.Equal(0, cache.LoadCount);
    }

    [Fact]
    public void AtomicFile_ALegal250CharacterName_IsWritten()
    {
        using var tmp = new TempFolder();
        var path = tmp[new string('a', 246) + ".png"]; // 250 bytes: NAME_MAX is 255
        AtomicFile.Write(path, false, s => s.WriteByte(1));
        Assert.Equal(new byte[] { 1 }, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(tmp.Path));
    }

    [Fact]
    public void AtomicFile_StaleTemporaryFilesOfThisModule_AreRemovedWhenTheFolderIsWrittenTo()
    {
        using var tmp = new TempFolder();
        var stale = tmp[".x.png.0123abcd.tmp"]; // a killed run's (the earlier naming), a day old
        File.WriteAllText(stale, "partial");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddDays(-1));
        var fresh = tmp[".y.png.89abcdef.tmp"]; // perhaps another writer's, now: kept
        File.WriteAllText(fresh, "partial");
        var foreign = tmp[".someone-else.tmp"]; // not this module's: kept
        File.WriteAllText(foreign, "x");
        File.SetLastWriteTimeUtc(foreign, DateTime.UtcNow.AddDays(-1));
        AtomicFile.Write(tmp["out.png"], false, s => s.WriteByte(1));
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh));
        Assert.True(File.Exists(foreign));
    }

    private static WuerstchenEmbedding Row(string prompt, float value) =>
        new GenerationParameters { Prompt = prompt, Seed = 7, Width = 256, Height = 256 }.ToEmbedding(new[] { 16, 6, 6 }, Enumerable.Repeat(value, 16 * 6 * 6).ToArray());

    [Fact]
    public void EmbeddingFile_ASidecarWrittenForOtherData_IsInvalidEmbeddingFile()
    {
        // what a crash between the two renames of a -Force re-export, or two concurrent re-exports, leave behind
        using var tmp = new TempFolder();
        EmbeddingFile.Write(tmp["a.npy"], new[] { Row("a red fox", 0.25f) }, false);
        EmbeddingFile.Write(tmp["b.npy"], new[] { Row("a blue bird", 0.75f) }, false);
        File.Copy(tmp["b.json"], tmp["a.json"], overwrite: true);
        var ex = Assert.Throws<WuerstchenException>(() => EmbeddingFile.Read(tmp["a.npy"]));
        Assert.Equal("InvalidEmbeddingFile", ex.ErrorId);
        Assert.Contains("a.json", ex.Message);
        Assert.Equal("a blue bird", EmbeddingFile.Read(tmp["b.npy"])[0].Prompt); // a whole pair still reads
    }

    [Fact]
    public void ImageFile_APromptWithNul_WritesNoNulIntoThePngText()
    {
        using var tmp = new TempFolder();
        var parameters = new GenerationParameters { Prompt = "a\0b", NegativePrompt = "c\0", Width = 8, Height = 8 }.ToPngText();
        ImageFile.Save(tmp["x.png"], false, new byte[8 * 8 * 3], 8, 8, parameters);
        var text = PngImage.ReadText(tmp["x.png"]);
        Assert.DoesNotContain('\0', text["prompt"]);
        Assert.DoesNotContain('\0', text["negative_prompt"]);
        Assert.StartsWith("a", text["prompt"]);
        Assert.EndsWith("b", text["prompt"]);
    }

    [Fact]
    public void PriorSettings_APromptWithNul_IsInvalidPrompt()
    {
        var ex = Assert.Throws<WuerstchenException>(new PriorSettings { Prompts = new[] { "ok", "a\0b" } }.Validate);
        Assert.Equal("InvalidPrompt", ex.ErrorId);
        Assert.Contains("2", ex.Message);
    }

    [Fact]
    public void ImageLoader_AOnePixelWideStrip_IsCroppedBeforeItIsResized()
    {
        // 1×16384 at 3072×3072 (-Width/-Height 4096) failed as "could not be read"; at its own size it took 26 s and 2 GB
        using var tmp = new TempFolder();
        using (var strip = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(1, 16384, new SixLabors.ImageSharp.PixelFormats.Rgb24(200, 100, 50)))
        {
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(strip, tmp["strip.png"]);
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var pixels = ImageLoader.LoadNormalized(tmp["strip.png"], 3072, 3072);
        Assert.Equal(3 * 3072 * 3072, pixels.Length);
        Assert.Equal((200 / 255f - 0.485f) / 0.229f, pixels[3072 * 1536 + 1536], 3);
        var fit = ImageFit.Choose(1, 16384, null, null);
        pixels = ImageLoader.LoadNormalized(tmp["strip.png"], 32 * ImageSize.Compute(fit.Width, fit.Height, ModelConfig.Default).PriorWidth, 32 * ImageSize.Compute(fit.Width, fit.Height, ModelConfig.Default).PriorHeight);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }
}
