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

    /// <summary>
    /// Image files that condition the prior with the prompts (Stable Cascade image variation): every image goes to every
    /// row, as diffusers' StableCascadePriorPipeline(images=[…]) does. Null or empty: text-to-image.
    /// </summary>
    public IReadOnlyList<string>? ImagePrompts { get; init; }

    /// <summary>img2img: the image the prior starts from (<see cref="InitImage"/>); null: from noise.</summary>
    public string? InitImage { get; init; }

    /// <summary>
    /// img2img: how much of the prior runs, 0 (the image's embedding, unchanged) to 1 (text-to-image); default
    /// <see cref="DefaultStrength"/>. A double, as diffusers reads it: ⌊steps · strength⌋ must agree (0.7 · 10 is 7).
    /// </summary>
    public double? Strength { get; init; }

    /// <summary>diffusers' img2img default.</summary>
    public const double DefaultStrength = 0.8;

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

        if (ImagePrompts is { } images)
        {
            CheckImagePromptCount(images.Count);

            if (images.Any(string.IsNullOrWhiteSpace))
            {
                throw new WuerstchenException("InvalidImagePrompt", WuerstchenErrorKind.InvalidArgument, "An image prompt path is empty; give image files.", images);
            }
        }

        CheckStrength(Strength);

        if (Strength is not null && InitImage is null)
        {
            throw new WuerstchenException("StrengthWithoutInitImage", WuerstchenErrorKind.InvalidArgument,
                "-Strength applies to img2img only: give -InitImage with it, or leave -Strength out.", Strength);
        }

        SamplingChecks.Steps(PriorSteps, PriorTimesteps, "PriorSteps", "PriorTimesteps");
        SamplingChecks.Guidance(PriorGuidanceScale, "PriorGuidanceScale");
    }

    /// <summary>At most <see cref="ImageEncoderNetwork.MaxImages"/> image prompts (also what a sidecar may record).</summary>
    internal static void CheckImagePromptCount(long count, string name = "image prompts")
    {
        if (count > ImageEncoderNetwork.MaxImages)
        {
            throw new WuerstchenException("TooManyImagePrompts", WuerstchenErrorKind.InvalidArgument,
                $"{count} {name} is more than {ImageEncoderNetwork.MaxImages}; each adds tokens to every prior step. Give fewer images.", count);
        }
    }

    /// <summary>A strength from 0 to 1 (also what a sidecar may record).</summary>
    internal static void CheckStrength(double? strength, string name = "Strength")
    {
        if (strength is { } s && !(s >= 0 && s <= 1))
        {
            throw new WuerstchenException("InvalidStrength", WuerstchenErrorKind.InvalidArgument,
                $"{name} must be from 0 (keep the init image's embedding) to 1 (ignore the image); got {s.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}.", s);
        }
    }

    /// <summary>The latent sizes of Width × Height with this model; the family's size rule is checked here.</summary>
    public LatentSize CheckSize(ModelConfig config) => ImageSize.Compute(Width, Height, config);

    /// <summary>The family's defaults for what was left null; refuses custom timesteps where the family's pipelines ignore them.</summary>
    public PriorSettings WithDefaults(ModelFamily family)
    {
        SamplingChecks.CustomTimesteps(family, PriorTimesteps, "PriorTimesteps", "PriorSteps");
        // images in need the family's encoders: said before an image is read or a network loaded (-WhatIf too)
        if (ImagePrompts is { Count: > 0 })
        {
            family.Required(NetworkKind.ImageEncoder);
        }

        if (InitImage is not null)
        {
            family.Required(NetworkKind.Effnet);
        }

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
