using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// The prior's cmdlet parameters as they were bound (null = left out, or an empty CSV cell), shared by
/// New-WuerstchenImage and Get-WuerstchenEmbedding, so nine values travel as one record.
/// </summary>
internal sealed record PriorParameters
{
    public required string[] Prompts { get; init; }
    public string? NegativePrompt { get; init; }
    public int? Width { get; init; }
    public int? Height { get; init; }
    public int? ImagesPerPrompt { get; init; }
    public long? Seed { get; init; }
    public int? PriorSteps { get; init; }
    public float[]? PriorTimesteps { get; init; }
    public float? PriorGuidanceScale { get; init; }
    public string[]? ImagePrompts { get; init; }
    public string? InitImage { get; init; }
    public double? Strength { get; init; }

    /// <summary>
    /// The engine's prior settings: parameters left out keep the engine's defaults; no seed → a random one. Validated.
    /// </summary>
    public PriorSettings ToSettings()
    {
        ParameterChecks.Exclusive("PriorSteps", PriorSteps, "PriorTimesteps", PriorTimesteps);
        var d = new PriorSettings();
        var settings = d with
        {
            Prompts = Prompts,
            NegativePrompt = NegativePrompt,
            Width = Width ?? d.Width,
            Height = Height ?? d.Height,
            ImagesPerPrompt = ImagesPerPrompt ?? d.ImagesPerPrompt,
            Seed = Seed ?? ParameterChecks.RandomSeed(),
            PriorSteps = PriorSteps, // null: the model family's default, filled in by the engine
            PriorTimesteps = PriorTimesteps,
            PriorGuidanceScale = PriorGuidanceScale,
            ImagePrompts = ImagePrompts,
            InitImage = InitImage,
            Strength = Strength,
        };
        settings.Validate();
        return settings;
    }
}

internal static class ParameterChecks
{
    public static void Exclusive(string a, int? steps, string b, float[]? timesteps)
    {
        if (steps is not null && timesteps is not null)
        {
            throw new WuerstchenException("ConflictingParameters", WuerstchenErrorKind.InvalidArgument,
                $"-{a} and -{b} cannot be used together: give a step count or an explicit timestep list (got {a} {steps} and {b} {string.Join(", ", timesteps)}).", $"{a}={steps}; {b}={string.Join(",", timesteps)}");
        }
    }

    /// <summary>A random seed in the torch range that matters (the generator uses the seed modulo 2^32).</summary>
    public static long RandomSeed() => Random.Shared.NextInt64(0, 1L << 32);

    /// <summary>Decoder settings from the cmdlet parameters, with the engine's defaults for what is left out. Validated.</summary>
    public static DecoderSettings Decoder(int? steps, float[]? timesteps, float? guidance, long? seed = null, string? prompt = null, string? negativePrompt = null)
    {
        Exclusive("DecoderSteps", steps, "DecoderTimesteps", timesteps);
        var d = new DecoderSettings();
        var settings = d with
        {
            DecoderSteps = steps,
            DecoderTimesteps = timesteps,
            DecoderGuidanceScale = guidance,
            Seed = seed,
            Prompt = prompt,
            NegativePrompt = negativePrompt,
        };
        settings.Validate();
        return settings;
    }
}
