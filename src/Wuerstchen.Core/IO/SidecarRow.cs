using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wuerstchen.Core.IO;

/// <summary>
/// One row of an embedding file's sidecar, read back with the command line's checks: a text is a text of at most
/// <see cref="PromptText.MaxLength"/> characters, a number a whole number where the parameter is one (seed 1e308 became
/// 0 before) and within its range, a timestep list at most 1001 values, counted before it is walked (200,000 passed
/// before). What Export-WuerstchenEmbedding writes passes the same <see cref="Check"/> first, so whatever the module
/// writes, it reads back.
/// </summary>
internal static class SidecarRow
{
    /// <summary>The row's parameters (width, height and source are the caller's: what the .npy and its name are now).</summary>
    /// <exception cref="InvalidDataException">A value of the wrong type or out of range, naming the row, key and value.</exception>
    public static GenerationParameters Read(JsonObject row, int index)
    {
        try
        {
            var p = new GenerationParameters
            {
                Prompt = Text(row, "prompt") ?? "",
                NegativePrompt = Text(row, "negative_prompt"),
                Seed = Whole(row, "seed", long.MinValue, long.MaxValue) ?? 0,
                PromptIndex = (int)(Whole(row, "prompt_index", 0, int.MaxValue) ?? index),
                ImageIndex = (int)(Whole(row, "image_index", 0, int.MaxValue) ?? 0),
                PriorSteps = (int?)Whole(row, "prior_steps", int.MinValue, int.MaxValue),
                PriorTimesteps = Timesteps(row, "prior_timesteps"),
                PriorGuidanceScale = Number(row, "prior_guidance_scale") is { } g ? (float)g : null,
                ImagePrompts = Texts(row, "image_prompts"),
                ImagePromptSha256 = Texts(row, "image_prompt_sha256"),
                InitImage = Text(row, "init_image"),
                InitImageSha256 = Text(row, "init_image_sha256"),
                Strength = Number(row, "strength"),
                ModelName = Text(row, "model"),
                ModelFamily = Text(row, "model_family"), // absent in files written before families: unknown, any decoder may read it
            };

            // the recorded size is checked as -Width/-Height are, though the .npy's shape decides what the embedding is now
            Check(p with
            {
                Width = (int)(Whole(row, "width", int.MinValue, int.MaxValue) ?? 0),
                Height = (int)(Whole(row, "height", int.MinValue, int.MaxValue) ?? 0),
            });
            return p;
        }
        catch (WuerstchenException ex)
        {
            throw new InvalidDataException($"its row {index}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The command line's limits on the values a row records (the ids are the command line's: PromptTooLong,
    /// InvalidImageSize, InvalidTimesteps …). A width or height of 0 means not stated (an embedding object without one).
    /// </summary>
    public static void Check(GenerationParameters p)
    {
        PromptText.Check(p.Prompt, "prompt");
        PromptText.Check(p.NegativePrompt, "negative_prompt");
        if (p.Width != 0)
        {
            ImageSize.ValidateRange(p.Width, "width");
        }

        if (p.Height != 0)
        {
            ImageSize.ValidateRange(p.Height, "height");
        }

        if (p.PriorTimesteps is { } timesteps)
        {
            DdpmWuerstchenScheduler.ValidateTimesteps(timesteps, "prior_timesteps");
        }
        else if (p.PriorSteps is { } steps)
        {
            SamplingChecks.Steps(steps, null, "prior_steps", "prior_timesteps");
        }

        SamplingChecks.Guidance(p.PriorGuidanceScale, "prior_guidance_scale");
        PriorSettings.CheckImagePromptCount(Math.Max(p.ImagePrompts?.Length ?? 0, p.ImagePromptSha256?.Length ?? 0), "image prompts (image_prompts)");
        PriorSettings.CheckStrength(p.Strength, "strength");
        if (p.PromptIndex < 0 || p.ImageIndex < 0)
        {
            throw Bad("prompt_index/image_index", $"{p.PromptIndex}/{p.ImageIndex}", "which is negative; a place in a batch counts from 0");
        }
    }

    private static JsonValue? Value(JsonObject row, string key) => row[key] switch
    {
        null => null, // absent or JSON null: not recorded
        JsonValue v => v,
        var other => throw Bad(key, other.ToJsonString(), "which is not a single value"),
    };

    private static string? Text(JsonObject row, string key) => Value(row, key) is not { } v ? null
        : v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
        : throw Bad(key, v.ToJsonString(), "which is not a text");

    private static double? Number(JsonObject row, string key) => Value(row, key) is not { } v ? null
        : v.GetValueKind() == JsonValueKind.Number ? double.Parse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture)
        : throw Bad(key, v.ToJsonString(), "which is not a number");

    /// <summary>A whole number in [min, max], as the command line reads -Seed or -Width: a fraction is an error, never rounded.</summary>
    private static long? Whole(JsonObject row, string key, long min, long max)
    {
        if (Value(row, key) is not { } v)
        {
            return null;
        }

        string raw = v.ToJsonString();
        if (v.GetValueKind() != JsonValueKind.Number)
        {
            throw Bad(key, raw, "which is not a number");
        }

        if (long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var exact))
        {
            return exact >= min && exact <= max ? exact : throw Bad(key, raw, $"which is outside {min} to {max}");
        }

        double d = double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (d != Math.Floor(d) || double.IsInfinity(d))
        {
            throw Bad(key, raw, "which is not a whole number (it is not rounded)");
        }

        return d >= min && d <= max ? (long)d : throw Bad(key, raw, $"which is outside {min} to {max}");
    }

    /// <summary>A list of texts (the image prompts' names or digests), counted against the command line's cap before it is read.</summary>
    private static string[]? Texts(JsonObject row, string key)
    {
        if (row[key] is null)
        {
            return null;
        }

        if (row[key] is not JsonArray list)
        {
            throw Bad(key, row[key]!.ToJsonString(), "which is not a list of texts");
        }

        PriorSettings.CheckImagePromptCount(list.Count, $"image prompts ({key})");
        return list.Select((t, i) => t is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
            : throw Bad(key, t?.ToJsonString() ?? "null", $"(its value {i}), which is not a text")).ToArray();
    }

    /// <summary>A list of numbers, counted against the step cap before a value is read.</summary>
    private static float[]? Timesteps(JsonObject row, string key)
    {
        if (row[key] is null)
        {
            return null;
        }

        if (row[key] is not JsonArray list)
        {
            throw Bad(key, row[key]!.ToJsonString(), "which is not a list of numbers");
        }

        DdpmWuerstchenScheduler.CheckCount(list.Count, key);
        var values = new float[list.Count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = list[i] is JsonValue v && v.GetValueKind() == JsonValueKind.Number
                ? (float)double.Parse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture)
                : throw Bad(key, list[i]?.ToJsonString() ?? "null", $"(its value {i}), which is not a number");
        }

        return values;
    }

    private static WuerstchenException Bad(string key, string raw, string why) =>
        new("InvalidSidecarValue", WuerstchenErrorKind.InvalidData, $"'{key}' got '{TextExcerpt.Of(raw, 40)}', {why}.", raw);
}
