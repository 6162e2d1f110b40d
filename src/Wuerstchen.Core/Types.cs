using Wuerstchen.Core.Noise;

namespace Wuerstchen.Core;

/// <summary>Where the noise of an embedding's batch continues: the generator after the prior, and this row's place in the batch.</summary>
public sealed record NoiseStream(Guid BatchId, GeneratorState State, int Row, int Rows);

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
    public const int MaxSteps = 1000;
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
        }

        ImageSize.Validate(Width, "Width");
        ImageSize.Validate(Height, "Height");
        if (ImagesPerPrompt < 1 || ImagesPerPrompt > MaxImagesPerPrompt)
        {
            throw new WuerstchenException("InvalidImagesPerPrompt", WuerstchenErrorKind.InvalidArgument,
                $"ImagesPerPrompt must be between 1 and {MaxImagesPerPrompt}; got {ImagesPerPrompt}.", ImagesPerPrompt);
        }

        SamplingChecks.Steps(PriorSteps, PriorTimesteps, "PriorSteps", "PriorTimesteps");
        SamplingChecks.Guidance(PriorGuidanceScale, "PriorGuidanceScale");
    }

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

    public void Validate()
    {
        SamplingChecks.Steps(DecoderSteps, DecoderTimesteps, "DecoderSteps", "DecoderTimesteps");
        SamplingChecks.Guidance(DecoderGuidanceScale, "DecoderGuidanceScale");
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

internal static class SamplingChecks
{
    public static void Steps(int? steps, IReadOnlyList<float>? timesteps, string stepsName, string listName)
    {
        if (timesteps is not null)
        {
            DdpmWuerstchenScheduler.ValidateTimesteps(timesteps, listName);
            return;
        }

        if (steps is < 1 or > PriorSettings.MaxSteps)
        {
            throw new WuerstchenException("InvalidStepCount", WuerstchenErrorKind.InvalidArgument,
                $"{stepsName} must be between 1 and {PriorSettings.MaxSteps}; got {steps}.", steps);
        }
    }

    /// <summary>
    /// Stable Cascade's diffusers pipelines ignore custom timesteps (the prior accepts the argument and drops it; the
    /// decoder has none): refuse them rather than silently run something diffusers never runs.
    /// </summary>
    public static void CustomTimesteps(ModelFamily family, IReadOnlyList<float>? timesteps, string listName, string stepsName)
    {
        if (timesteps is not null && !family.Defaults.CustomTimesteps)
        {
            throw new WuerstchenException("TimestepsNotSupported", WuerstchenErrorKind.InvalidArgument,
                $"{family.DisplayName} models do not take custom timesteps: its diffusers pipelines ignore them, so -{listName} could not match diffusers. Give a step count with -{stepsName} instead (default {(stepsName.StartsWith("Prior") ? family.Defaults.PriorSteps : family.Defaults.DecoderSteps)}).", string.Join(",", timesteps));
        }
    }

    public static void Guidance(float? value, string name)
    {
        if (value is not { } scale)
        {
            return;
        }

        if (!float.IsFinite(scale) || scale < 0f || scale > 100f)
        {
            throw new WuerstchenException("InvalidGuidanceScale", WuerstchenErrorKind.InvalidArgument,
                $"{name} must be a number from 0 to 100 (guidance applies when it is above 1); got {scale.ToString(System.Globalization.CultureInfo.InvariantCulture)}.", scale);
        }
    }
}

/// <summary>
/// An image embedding [16,h,w] in the decoder's space (v2: after 42·x − 1; Stable Cascade: the prior's latents as
/// they are), one per image, with what made it.
/// </summary>
public sealed class WuerstchenEmbedding
{
    public string Prompt { get; init; } = "";
    public string? NegativePrompt { get; init; }
    public long Seed { get; init; }

    /// <summary>Pixel size the embedding decodes to.</summary>
    public int Width { get; init; }

    public int Height { get; init; }

    /// <summary>[16, h, w].</summary>
    public int[] Shape { get; init; } = Array.Empty<int>();

    public float[] Data { get; init; } = Array.Empty<float>();

    public int PromptIndex { get; init; }
    public int ImageIndex { get; init; }
    public int? PriorSteps { get; init; }
    public float[]? PriorTimesteps { get; init; }
    public float? PriorGuidanceScale { get; init; }
    public string? ModelName { get; init; }

    /// <summary>The model family whose prior made it ("wuerstchen-v2", "stable-cascade"); null when unknown (a bare .npy).</summary>
    public string? Family { get; init; }

    /// <summary>"prompt", "image:&lt;path&gt;" or "file:&lt;path&gt;".</summary>
    public string Source { get; init; } = "prompt";

    /// <summary>The generator state to continue from; null when the embedding was imported or made from an image.</summary>
    public NoiseStream? Stream { get; init; }

    public int Channels => Shape.Length == 3 ? Shape[0] : 0;
    public int LatentHeight => Shape.Length == 3 ? Shape[1] : 0;
    public int LatentWidth => Shape.Length == 3 ? Shape[2] : 0;

    public override string ToString() => $"WuerstchenEmbedding [{string.Join(",", Shape)}] '{Prompt}' seed {Seed}";
}

/// <summary>
/// One decoded image: 8-bit RGB, row-major, 3 bytes a pixel. Disposing it gives the pixel buffer back to
/// the engine's pool for the next generation (optional; <see cref="Pixels"/> may not be used afterwards).
/// </summary>
public sealed class GeneratedImage : IDisposable
{
    private byte[]? _pixels;

    public required byte[] Pixels
    {
        get => _pixels ?? throw new ObjectDisposedException(nameof(GeneratedImage), "The image's pixels were given back with Dispose.");
        init => _pixels = value;
    }

    public void Dispose() => BufferPool.Return(Interlocked.Exchange(ref _pixels, null));

    public required int Width { get; init; }
    public required int Height { get; init; }
    public required WuerstchenEmbedding Embedding { get; init; }

    /// <summary>The seed the decoder noise came from (the embedding's, or an explicit decoder seed).</summary>
    public required long Seed { get; init; }

    public required DecoderSettings Decoder { get; init; }
    public string? ModelName { get; init; }

    /// <summary>The family of the model that decoded it ("wuerstchen-v2", "stable-cascade").</summary>
    public string? ModelFamily { get; init; }

    /// <summary>Generation parameters for PNG text chunks (invariant formatting).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters()
    {
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        var e = Embedding;
        var list = new List<KeyValuePair<string, string>>
        {
            new("prompt", Decoder.Prompt ?? e.Prompt),
            new("negative_prompt", Decoder.NegativePrompt ?? e.NegativePrompt ?? ""),
            new("seed", Seed.ToString(ci)),
            new("width", Width.ToString(ci)),
            new("height", Height.ToString(ci)),
        };
        if (e.PriorTimesteps is { } pt)
        {
            list.Add(new("prior_timesteps", string.Join(",", pt.Select(v => v.ToString("R", ci)))));
        }
        else if (e.PriorSteps is { } ps)
        {
            list.Add(new("prior_steps", ps.ToString(ci)));
        }

        if (e.PriorGuidanceScale is { } pg)
        {
            list.Add(new("prior_guidance_scale", pg.ToString("R", ci)));
        }

        if (Decoder.DecoderTimesteps is { } dt)
        {
            list.Add(new("decoder_timesteps", string.Join(",", dt.Select(v => v.ToString("R", ci)))));
        }
        else
        {
            list.Add(new("decoder_steps", (Decoder.DecoderSteps ?? 0).ToString(ci)));
        }

        list.Add(new("decoder_guidance_scale", (Decoder.DecoderGuidanceScale ?? 0f).ToString("R", ci)));
        if (e.Seed != Seed)
        {
            list.Add(new("prior_seed", e.Seed.ToString(ci)));
        }

        list.Add(new("source", e.Source));
        list.Add(new("model", ModelName ?? e.ModelName ?? ""));
        if ((ModelFamily ?? e.Family) is { } family)
        {
            list.Add(new("model_family", family));
        }

        list.Add(new("Software", "Wuerstchen.PowerShell " + typeof(GeneratedImage).Assembly.GetName().Version?.ToString(3)));
        return list;
    }
}

/// <summary>Progress of a pipeline: which stage, and its step.</summary>
public readonly record struct PipelineProgress(string Stage, int Step, int TotalSteps, int Rows);

/// <summary>A network being loaded (Elapsed null) or loaded: how long it took, whether the session came from the cache, and on which provider.</summary>
public readonly record struct NetworkLoad(StageKind Stage, TimeSpan? Elapsed, bool Cached, string? Provider);
