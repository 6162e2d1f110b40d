using Wuerstchen.Core;
using Wuerstchen.Core.IO;
using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>The one generation-parameters record: its PNG text keys are a file format, and every mapping reads back.</summary>
public class GenerationParametersTests
{
    private static GeneratedImage Image(DecoderSettings decoder, long seed)
    {
        var embedding = new WuerstchenEmbedding
        {
            Prompt = "a cat",
            NegativePrompt = null,
            Seed = 42,
            Width = 384,
            Height = 256,
            Shape = new[] { 16, 6, 9 },
            Data = new float[16 * 6 * 9],
            PromptIndex = 1,
            ImageIndex = 2,
            PriorTimesteps = new[] { 1f, 0.5f, 0f },
            PriorGuidanceScale = 4f,
            ModelName = "standin",
            Family = "wuerstchen-v2",
        };
        return new GeneratedImage { Pixels = new byte[3], Width = 384, Height = 256, Embedding = embedding, Seed = seed, Decoder = decoder, ModelName = "standin", ModelFamily = "wuerstchen-v2" };
    }

    [Fact]
    public void PngTextKeepsItsKeysAndValues()
    {
        using var image = Image(new DecoderSettings { DecoderSteps = 12, DecoderGuidanceScale = 0f, NegativePrompt = "blur" }, seed: 7);
        var text = image.Parameters();
        Assert.Equal(new[] { "prompt", "negative_prompt", "seed", "width", "height", "prompt_index", "image_index", "images_per_prompt", "prior_timesteps", "prior_guidance_scale", "decoder_steps",
            "decoder_guidance_scale", "prior_seed", "source", "model", "model_family", "Software" }, text.Select(p => p.Key));
        var map = text.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("a cat", map["prompt"]);
        Assert.Equal("blur", map["negative_prompt"]);
        Assert.Equal("7", map["seed"]);
        Assert.Equal("1,0.5,0", map["prior_timesteps"]);
        Assert.Equal("12", map["decoder_steps"]);
        Assert.Equal("42", map["prior_seed"]);
        Assert.Equal("prompt", map["source"]);
    }

    [Fact]
    public void PngTextRecordsThePlaceInTheBatchAndReadsItBack()
    {
        var parameters = new GenerationParameters
        {
            Prompt = "b \"quoted\"",
            PromptIndex = 1,
            ImageIndex = 2,
            ImagesPerPrompt = 3,
            BatchPrompts = new[] { "a, with comma", "b \"quoted\"" },
        };
        var back = GenerationParameters.FromPngText(parameters.ToPngText());
        Assert.Equal((1, 2, 3), (back.PromptIndex, back.ImageIndex, back.ImagesPerPrompt));
        Assert.Equal(parameters.BatchPrompts, back.BatchPrompts);
        Assert.True(back.IsRecordedIn(parameters.ToPngText().ToDictionary(p => p.Key, p => p.Value)));
        Assert.False((back with { ImageIndex = 0 }).IsRecordedIn(parameters.ToPngText().ToDictionary(p => p.Key, p => p.Value)));
    }

    [Fact]
    public void PngTextWithoutReseedHasNoPriorSeedAndReadsBack()
    {
        using var image = Image(new DecoderSettings { DecoderTimesteps = new[] { 1f, 0f }, DecoderGuidanceScale = 2.5f }, seed: 42);
        var text = image.Parameters();
        Assert.DoesNotContain(text, p => p.Key == "prior_seed");
        var back = GenerationParameters.FromPngText(text);
        var original = GenerationParameters.Of(image);
        Assert.Equal(original.Prompt, back.Prompt);
        Assert.Null(back.NegativePrompt);
        Assert.Equal(42, back.Seed);
        Assert.Equal(42, back.PriorSeed);
        Assert.Equal((384, 256), (back.Width, back.Height));
        Assert.Equal(original.PriorTimesteps, back.PriorTimesteps);
        Assert.Equal(new[] { 1f, 0f }, back.DecoderTimesteps);
        Assert.Null(back.DecoderSteps);
        Assert.Equal(2.5f, back.DecoderGuidanceScale);
        Assert.Equal("standin", back.ModelName);
        Assert.Equal("wuerstchen-v2", back.ModelFamily);
    }

    [Fact]
    public void OutputPropertiesFollowTheDecoderOverrides()
    {
        using var image = Image(new DecoderSettings { DecoderSteps = 3, DecoderGuidanceScale = 0f, Prompt = "a dog" }, seed: 5);
        var props = GenerationParameters.Of(image).ToOutputProperties().ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("a dog", props["Prompt"]);
        Assert.Equal(5L, props["Seed"]);
        Assert.Equal(42L, props["PriorSeed"]);
        Assert.Equal(3, props["DecoderSteps"]);
        Assert.Null(props["DecoderTimesteps"]);
        Assert.Equal(2, props["ImageIndex"]);
    }

    [Fact]
    public void SidecarRowReadsBackEveryEmbeddingField()
    {
        var e = new GenerationParameters
        {
            Prompt = "p", NegativePrompt = "n", Seed = -3, Width = 128, Height = 256, PromptIndex = 4, ImageIndex = 1,
            PriorTimesteps = new[] { 1f, 0.25f, 0f }, PriorGuidanceScale = 3.5f, ModelName = "m", ModelFamily = "stable-cascade",
        };
        var row = System.Text.Json.Nodes.JsonNode.Parse(e.ToSidecarRow().ToJsonString());
        var back = GenerationParameters.FromSidecarRow(row, 0);
        Assert.Equal(e with { Width = 0, Height = 0, PriorTimesteps = null }, back with { PriorTimesteps = null });
        Assert.Equal(e.PriorTimesteps, back.PriorTimesteps);
        Assert.Equal(new[] { "prompt", "negative_prompt", "seed", "width", "height", "prompt_index", "image_index", "prior_steps", "prior_timesteps",
            "prior_guidance_scale", "image_prompts", "image_prompt_sha256", "init_image", "init_image_sha256", "strength", "model", "model_family", "source" },
            e.ToSidecarRow().Select(p => p.Key));
    }

    [Fact]
    public void ImagesInReadBackFromTheSidecarAndThePngText()
    {
        var e = new GenerationParameters
        {
            Prompt = "p", ImagePrompts = new[] { "a.jpg", "b c.png" }, ImagePromptSha256 = new[] { "00ff", "ee11" },
            InitImage = "photo.jpg", InitImageSha256 = "abcd", Strength = 0.7,
        };
        foreach (var back in new[]
        {
            GenerationParameters.FromSidecarRow(System.Text.Json.Nodes.JsonNode.Parse(e.ToSidecarRow().ToJsonString()), 0),
            GenerationParameters.FromPngText(e.ToPngText()),
        })
        {
            Assert.Equal(e.ImagePrompts, back.ImagePrompts);
            Assert.Equal(e.ImagePromptSha256, back.ImagePromptSha256);
            Assert.Equal(("photo.jpg", "abcd", (double?)0.7), (back.InitImage, back.InitImageSha256, back.Strength));
        }

        // text-to-image writes none of these keys
        Assert.DoesNotContain(new GenerationParameters { Prompt = "p" }.ToPngText(), kv => kv.Key.StartsWith("image_prompt") || kv.Key.StartsWith("init_image") || kv.Key == "strength");
    }
}
