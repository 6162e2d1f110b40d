namespace Wuerstchen.Core;

/// <summary>
/// What the prior stage needs: prompts, sizes, seed, steps and guidance. Steps and guidance left null take the model
/// family's defaults (<see cref="WithDefaults"/>: v2 60 steps, Stable Cascade 20; guidance 4 for both).
/// </summary>
public sealed record PriorSettings
{
    public IReadOnlyList<string> Prompts { get; init; } = Array.Empty<string>();
    public string? NegativePrompt { get; init; }
    public int Width { get; init; } = 1024;
    public int Height { get; init; } = 1024;
    public int ImagesPerPrompt { get; init; } = 1;
    public long Seed { get; init; }
    public int? PriorSteps { get; init; }
    public IReadOnlyList<float>? PriorTimesteps { get; init; }
    public float? PriorGuidanceScale { get; init; }

    public const int MaxImagesPerPrompt = 64;
    public const int MaxSteps = SamplingChecks.MaxSteps;
    public const int MaxPrompts = 256;

    /// <summary>Validates everything that can be checked without a model.</summary>
    public void Validate()
    {
        if (Prompts is null || Prompts.Count == 0)
        {
            throw new WuerstchenException("EmptyPrompt", WuerstchenErrorKind.InvalidArgument, "At least one prompt is needed; got none.", Prompts);
        }

        if (Prompts.Count > MaxPrompts)
        {
            throw new WuerstchenException("TooManyPrompts", WuerstchenErrorKind.InvalidArgument,
                $"{Prompts.Count} prompts in one call is more than {MaxPrompts}; pipe them instead, one call per row.", Prompts.Count);
        }

        for (int i = 0; i < Prompts.Count; i++)
        {
            if (Prompts[i] is null)
            {
                throw new WuerstchenException("EmptyPrompt", WuerstchenErrorKind.InvalidArgument, $"Prompt number {i + 1} is null.", i);
            }

            PromptText.Check(Prompts[i], $"Prompt number {i + 1}");
        }

        PromptText.Check(NegativePrompt, "NegativePrompt");

        // the range here; the family's size rule (v2's 128-pixel steps …) with the model: CheckSize
        ImageSize.ValidateRange(Width, "Width");
        ImageSize.ValidateRange(Height, "Height");
        if (ImagesPerPrompt < 1 || ImagesPerPrompt > MaxImagesPerPrompt)
        {
            throw new WuerstchenException("InvalidImagesPerPrompt", WuerstchenErrorKind.InvalidArgument,
                $"ImagesPerPrompt must be between 1 and {MaxImagesPerPrompt}; got {ImagesPerPrompt}.", ImagesPerPrompt);
        }

        SamplingChecks.Steps(PriorSteps, PriorTimesteps, "PriorSteps", "PriorTimesteps");
        SamplingChecks.Guidance(PriorGuidanceScale, "PriorGuidanceScale");
    }

    /// <summary>The latent sizes of Width × Height with this model; the family's size rule is checked here.</summary>
    public LatentSize CheckSize(ModelConfig config) => ImageSize.Compute(Width, Height, config);

    /// <summary>The family's defaults for what was left null; refuses custom timesteps where the family's pipelines ignore them.</summary>
    public PriorSettings WithDefaults(ModelFamily family)
    {
        SamplingChecks.CustomTimesteps(family, PriorTimesteps, "PriorTimesteps", "PriorSteps");
        return this with
        {
            PriorSteps = PriorTimesteps is null ? PriorSteps ?? family.Defaults.PriorSteps : null,
            PriorGuidanceScale = PriorGuidanceScale ?? family.Defaults.PriorGuidanceScale,
        };
    }

    public float[] Timesteps() => PriorTimesteps is { } list
        ? DdpmWuerstchenScheduler.ValidateTimesteps(list, "PriorTimesteps")
        : DdpmWuerstchenScheduler.DefaultTimesteps(PriorSteps ?? throw new InvalidOperationException("WithDefaults first."));
}
