using System.Globalization;
using System.Text.Json.Nodes;

namespace Wuerstchen.Core;

// The on-disk side of GenerationParameters: the PNG text keys (a file format: files written by earlier versions must keep
// reading back, so a key is never renamed, only added) and the formatting and lenient parsing of their values.
public sealed partial record GenerationParameters
{
    /// <summary>The PNG text keys (a file format: never renamed).</summary>
    public static class PngKeys
    {
        public const string Prompt = "prompt";
        public const string NegativePrompt = "negative_prompt";
        public const string Seed = "seed";
        public const string ImagesPerPrompt = "images_per_prompt";
        public const string PromptIndex = "prompt_index";
        public const string ImageIndex = "image_index";
        public const string BatchPrompts = "batch_prompts";
        public const string ImagePrompts = "image_prompts";
        public const string ImagePromptSha256 = "image_prompt_sha256";
        public const string InitImage = "init_image";
        public const string InitImageSha256 = "init_image_sha256";
        public const string Strength = "strength";
        public const string Width = "width";
        public const string Height = "height";
        public const string PriorSteps = "prior_steps";
        public const string PriorTimesteps = "prior_timesteps";
        public const string PriorGuidanceScale = "prior_guidance_scale";
        public const string DecoderSteps = "decoder_steps";
        public const string DecoderTimesteps = "decoder_timesteps";
        public const string DecoderGuidanceScale = "decoder_guidance_scale";
        public const string PriorSeed = "prior_seed";
        public const string Source = "source";
        public const string Model = "model";
        public const string ModelFamily = "model_family";
        public const string Software = "Software";
    }

    // written as the texts are, not with six-byte escapes of '<' or non-ASCII letters (IO.JsonText.Compact): read back up to PngText's bound
    private static string TextArray(IEnumerable<string> texts) => new JsonArray(texts.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()).ToJsonString(IO.JsonText.Compact);

    /// <summary>The image prompts' file names as the metadata records them; null without image prompts.</summary>
    public static string[]? ImagePromptNames(IReadOnlyList<string>? paths) =>
        paths is { Count: > 0 } ? paths.Select(Path.GetFileName).Select(n => n ?? "").ToArray() : null;

    /// <summary>The image prompts' SHA-256 digests (lower-case hex); null without image prompts. A file that cannot be
    /// read gets "" here: reading it for the encoder reports the error.</summary>
    public static string[]? ImagePromptHashes(IReadOnlyList<string>? paths) =>
        paths is { Count: > 0 } ? paths.Select(IO.FileDigest.Sha256OrEmpty).ToArray() : null;

    private static string FloatList(IEnumerable<float> values) => string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static long? ParseLong(string? s) => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static float? ParseFloat(string? s) => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static float[]? ParseFloats(string? s, string key)
    {
        if (s is null)
        {
            return null;
        }

        Recorded(() => DdpmWuerstchenScheduler.CheckCount(s.AsSpan().Count(',') + 1L, key)); // counted before it is split

        var parts = s.Split(',');
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (ParseFloat(parts[i]) is not { } v)
            {
                return null;
            }

            values[i] = v;
        }

        return values;
    }

    /// <summary>A JSON array of texts (batch_prompts); anything else is treated as absent.</summary>
    private static string[]? ParseTexts(string? s)
    {
        try
        {
            return s is null || JsonNode.Parse(s) is not JsonArray a ? null
                : a.Select(t => t is JsonValue v && v.TryGetValue<string>(out var text) ? text : null).ToArray() is var texts && texts.All(t => t is not null) ? texts! : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
