namespace Wuerstchen.Core;

/// <summary>What the decoder stage needs besides the embeddings.</summary>
public sealed record DecoderSettings
{
    /// <summary>Null: the family's default (v2 12, Stable Cascade 10).</summary>
    public int? DecoderSteps { get; init; }
    public IReadOnlyList<float>? DecoderTimesteps { get; init; }

    /// <summary>Null: the family's default (0 for both: no decoder guidance).</summary>
    public float? DecoderGuidanceScale { get; init; }

    /// <summary>Starts a fresh generator with this seed instead of continuing the embedding's stream.</summary>
    public long? Seed { get; init; }

    /// <summary>Overrides the decoder text of every embedding (e.g. for an embedding made from an image).</summary>
    public string? Prompt { get; init; }

    public string? NegativePrompt { get; init; }

    public const int MaxSteps = SamplingChecks.MaxSteps;

    public void Validate()
    {
        SamplingChecks.Steps(DecoderSteps, DecoderTimesteps, "DecoderSteps", "DecoderTimesteps");
        SamplingChecks.Guidance(DecoderGuidanceScale, "DecoderGuidanceScale");
        PromptText.Check(Prompt, "Prompt");
        PromptText.Check(NegativePrompt, "NegativePrompt");
    }

    /// <summary>The family's defaults for what was left null; refuses custom timesteps where the family's pipelines ignore them.</summary>
    public DecoderSettings WithDefaults(ModelFamily family)
    {
        SamplingChecks.CustomTimesteps(family, DecoderTimesteps, "DecoderTimesteps", "DecoderSteps");
        return this with
        {
            DecoderSteps = DecoderTimesteps is null ? DecoderSteps ?? family.Defaults.DecoderSteps : null,
            DecoderGuidanceScale = DecoderGuidanceScale ?? family.Defaults.DecoderGuidanceScale,
        };
    }

    public float[] Timesteps() => DecoderTimesteps is { } list
        ? DdpmWuerstchenScheduler.ValidateTimesteps(list, "DecoderTimesteps")
        : DdpmWuerstchenScheduler.DefaultTimesteps(DecoderSteps ?? throw new InvalidOperationException("WithDefaults first."));
}
