using System.Text.Json.Nodes;
using Wuerstchen.Core.IO;
using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// Issue 21 after the outside trial: what a generation records (prompts, timesteps, seeds, sizes) is bounded where it
/// comes in, and whatever the module writes — PNG text, an embedding's sidecar — it reads back; what it reads is
/// capped as the command line is.
/// </summary>
public class BoundedRecordTests
{
    /// <summary>The longest prompt accepted (Stability AI's own API takes at most 10,000 characters too).</summary>
    private const int Limit = 10_000;

    // \u0001 is the costliest character to store: JSON writes it as six bytes (\u0001)
    private static string Worst(char c = '\u0001') => new(c, Limit);

    private static float[] Descending(int count) => Enumerable.Range(0, count).Select(i => 1f - (float)i / (count - 1)).ToArray();

    [Fact]
    public void PriorSettings_APromptOverTheLimit_IsPromptTooLongBeforeAnyWork()
    {
        var huge = new string('a', 5_000_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var ex = Assert.Throws<WuerstchenException>(new PriorSettings { Prompts = new[] { "ok", huge } }.Validate);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "refusing a long prompt allocated more than 1 MiB");
        Assert.Equal("PromptTooLong", ex.ErrorId);
        Assert.Equal(WuerstchenErrorKind.InvalidArgument, ex.Kind);
        Assert.Contains("Prompt number 2", ex.Message);
        Assert.Contains("5000000 characters", ex.Message);
        Assert.Contains("10000", ex.Message);
        Assert.True(ex.Message.Length < 600, ex.Message);

        ex = Assert.Throws<WuerstchenException>(new PriorSettings { Prompts = new[] { "ok" }, NegativePrompt = new string('n', Limit + 1) }.Validate);
        Assert.Equal("PromptTooLong", ex.ErrorId);
        Assert.Contains("NegativePrompt", ex.Message);
        ex = Assert.Throws<WuerstchenException>(new DecoderSettings { Prompt = huge }.Validate);
        Assert.Equal("PromptTooLong", ex.ErrorId);

        new PriorSettings { Prompts = new[] { Worst('a') }, NegativePrompt = Worst('b') }.Validate(); // a long prompt at the limit is fine
    }

    [Fact]
    public void RunDecoder_AnEmbeddingWhosePromptIsOverTheLimit_IsPromptTooLong()
    {
        // an embedding rebuilt from Import-Clixml or a hand-edited object: its prompt goes to the decoder's text encoder
        var e = new GenerationParameters { Prompt = new string('a', Limit + 1) }.ToEmbedding(new[] { 16, 3, 3 }, new float[16 * 3 * 3]);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var pipeline = new WuerstchenPipeline(ModelFolder.Open(TestPaths.StandinModels), ExecutionOptions.Cpu, new SessionCache());
        var ex = Assert.Throws<WuerstchenException>(() => pipeline.RunDecoder(new[] { e }, new DecoderSettings(), cancelled.Token));
        Assert.Equal("PromptTooLong", ex.ErrorId);
        Assert.Contains("10001 characters", ex.Message);
    }

    /// <summary>The most text one image records: 256 prompts of the longest, costliest text, and the longest timestep lists.</summary>
    private static GenerationParameters Largest() => new()
    {
        Prompt = Worst('<'),
        NegativePrompt = Worst('\u00e9'),
        BatchPrompts = Enumerable.Range(0, PriorSettings.MaxPrompts).Select(i => Worst()).ToArray(),
        ImagesPerPrompt = PriorSettings.MaxImagesPerPrompt,
        PriorTimesteps = Descending(PriorSettings.MaxSteps + 1),
        DecoderTimesteps = Descending(DecoderSettings.MaxSteps + 1),
        Width = 8,
        Height = 8,
    };

    [Theory]
    [InlineData("png")]
    [InlineData("jpg")]
    [InlineData("webp")]
    public void ImageFile_TheMostTextTheModuleWrites_ReadsBack(string extension)
    {
        using var tmp = new TempFolder();
        var path = tmp["largest." + extension];
        var written = Largest();
        ImageFile.Save(path, false, new byte[8 * 8 * 3], 8, 8, written.ToPngText());
        var back = GenerationParameters.FromPngText(ImageFile.ReadParameters(path));
        Assert.Equal(written.Prompt, back.Prompt);
        Assert.Equal(written.NegativePrompt, back.NegativePrompt);
        Assert.Equal(written.BatchPrompts, back.BatchPrompts);
        Assert.Equal(written.PriorTimesteps, back.PriorTimesteps);
        Assert.Equal(written.DecoderTimesteps, back.DecoderTimesteps);
    }

    [Fact]
    public void GenerationParameters_FromPngText_CapsWhatItReadsAsTheCommandLineDoes()
    {
        var text = new Dictionary<string, string> { ["prompt"] = new string('a', Limit + 1) };
        var ex = Assert.Throws<InvalidDataException>(() => GenerationParameters.FromPngText(text));
        Assert.Contains("prompt", ex.Message);
        Assert.Contains("10001", ex.Message);

        text = new Dictionary<string, string> { ["prompt"] = "a", ["prior_timesteps"] = string.Join(",", Descending(200_000)) };
        ex = Assert.Throws<InvalidDataException>(() => GenerationParameters.FromPngText(text));
        Assert.Contains("prior_timesteps", ex.Message);
        Assert.Contains("200000 values", ex.Message);
    }

    private static WuerstchenEmbedding Row(GenerationParameters p) => p.ToEmbedding(new[] { 16, 3, 3 }, Enumerable.Repeat(0.5f, 16 * 3 * 3).ToArray());

    [Fact]
    public void EmbeddingFile_TheLargestRowsTheModuleWrites_ReadBack()
    {
        using var tmp = new TempFolder();
        var rows = Enumerable.Range(0, 48).Select(i => Row(new GenerationParameters
        {
            Prompt = Worst(), NegativePrompt = Worst(), Seed = long.MinValue + i, PriorTimesteps = Descending(PriorSettings.MaxSteps + 1),
            PromptIndex = i, ModelName = "m",
        })).ToArray();
        EmbeddingFile.Write(tmp["big.npy"], rows, false);
        var back = EmbeddingFile.Read(tmp["big.npy"]);
        Assert.Equal(48, back.Count);
        Assert.Equal(rows[47].Prompt, back[47].Prompt);
        Assert.Equal(rows[47].Seed, back[47].Seed);
        Assert.Equal(rows[47].PriorTimesteps, back[47].PriorTimesteps);
    }

    [Fact]
    public void EmbeddingFile_WritesPromptTextAsItIs_NotAsSixByteEscapes()
    {
        // '<' was written as \u003C: a prompt of 5 million '<' made a 28 MiB sidecar the reader (16 MiB) refused
        using var tmp = new TempFolder();
        EmbeddingFile.Write(tmp["lt.npy"], new[] { Row(new GenerationParameters { Prompt = Worst('<'), NegativePrompt = Worst('\u00e9') }) }, false);
        Assert.True(new FileInfo(tmp["lt.json"]).Length < 4 * Limit, $"the sidecar has {new FileInfo(tmp["lt.json"]).Length} bytes");
        Assert.Equal(Worst('<'), EmbeddingFile.Read(tmp["lt.npy"])[0].Prompt);
    }

    [Fact]
    public void EmbeddingFile_RowsWhoseSidecarWouldNotReadBack_AreRefusedBeforeAnythingIsWritten()
    {
        using var tmp = new TempFolder();
        var tooLong = Assert.Throws<WuerstchenException>(() =>
            EmbeddingFile.Write(tmp["a.npy"], new[] { Row(new GenerationParameters { Prompt = new string('<', 5_000_000) }) }, false));
        Assert.Equal("PromptTooLong", tooLong.ErrorId);

        // each row within the limits, but together more than the reader takes
        var many = Enumerable.Range(0, 160).Select(_ => Row(new GenerationParameters { Prompt = Worst(), NegativePrompt = Worst() })).ToArray();
        var ex = Assert.Throws<WuerstchenException>(() => EmbeddingFile.Write(tmp["b.npy"], many, false));
        Assert.Equal("EmbeddingMetadataTooLarge", ex.ErrorId);
        Assert.Contains("160 embeddings", ex.Message);
        Assert.Contains("16 MiB", ex.Message);
        Assert.Empty(Directory.GetFiles(tmp.Path));
    }

    /// <summary>A written pair whose sidecar's first row gets <paramref name="key"/> = <paramref name="json"/> (raw JSON).</summary>
    private static string PairWith(TempFolder tmp, string key, string json)
    {
        var npy = tmp["x.npy"];
        EmbeddingFile.Write(npy, new[] { Row(new GenerationParameters { Prompt = "a fox", Seed = 7, Width = 128, Height = 128 }) }, true);
        var doc = JsonNode.Parse(File.ReadAllText(tmp["x.json"]))!.AsObject();
        var target = key == "shape" ? doc : doc["embeddings"]![0]!.AsObject();
        target[key] = JsonNode.Parse(json);
        File.WriteAllText(tmp["x.json"], doc.ToJsonString());
        return npy;
    }

    [Theory]
    [InlineData("seed", "1e308", "1e308")]
    [InlineData("seed", "1.5", "not a whole number")]
    [InlineData("seed", "\"12\"", "not a number")]
    [InlineData("width", "1e9", "1000000000")]
    [InlineData("height", "-128", "-128")]
    [InlineData("width", "100.5", "not a whole number")]
    [InlineData("prompt_index", "-1", "-1")]
    [InlineData("prior_steps", "0", "0")]
    [InlineData("prior_guidance_scale", "1e30", "1E+30")]
    [InlineData("shape", "[1, 16, 9, 9]", "[1,16,3,3]")]
    [InlineData("prompt", "7", "not a text")]
    [InlineData("strength", "1.5", "1.5")]
    [InlineData("image_prompts", "[\"a.png\",\"b.png\",\"c.png\",\"d.png\",\"e.png\",\"f.png\",\"g.png\",\"h.png\",\"i.png\",\"j.png\",\"k.png\",\"l.png\",\"m.png\",\"n.png\",\"o.png\",\"p.png\",\"q.png\"]", "17 image prompts (image_prompts)")]
    public void EmbeddingFile_ASidecarValueTheCommandLineWouldRefuse_IsInvalidEmbeddingFile(string key, string json, string named)
    {
        using var tmp = new TempFolder();
        var ex = Assert.Throws<WuerstchenException>(() => EmbeddingFile.Read(PairWith(tmp, key, json)));
        Assert.Equal("InvalidEmbeddingFile", ex.ErrorId);
        Assert.Contains(key, ex.Message);
        Assert.Contains(named, ex.Message);
    }

    [Fact]
    public void EmbeddingFile_SidecarTimestepsOverTheStepCap_AreRefusedBeforeTheListIsWalked()
    {
        using var tmp = new TempFolder();
        var npy = PairWith(tmp, "prior_timesteps", "[" + string.Join(",", Enumerable.Repeat("0.5", 200_000)) + "]");
        var ex = Assert.Throws<WuerstchenException>(() => EmbeddingFile.Read(npy));
        Assert.Equal("InvalidEmbeddingFile", ex.ErrorId);
        Assert.Contains("prior_timesteps", ex.Message);
        Assert.Contains("200000 values", ex.Message);
        Assert.Contains("1001", ex.Message);
    }

    [Fact]
    public void EmbeddingFile_ASidecarPromptOverTheLimit_IsInvalidEmbeddingFile()
    {
        using var tmp = new TempFolder();
        var ex = Assert.Throws<WuerstchenException>(() => EmbeddingFile.Read(PairWith(tmp, "prompt", "\"" + new string('a', Limit + 1) + "\"")));
        Assert.Equal("InvalidEmbeddingFile", ex.ErrorId);
        Assert.Contains("10001 characters", ex.Message);
    }
}
