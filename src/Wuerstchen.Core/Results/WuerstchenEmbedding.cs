namespace Wuerstchen.Core;

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

    /// <summary>The batch it was made in (1 for an embedding made from an image or read from a bare .npy).</summary>
    public int ImagesPerPrompt { get; init; } = 1;

    /// <summary>All prompts of its batch when there were several (the noise of every row depends on the whole batch); else null.</summary>
    public string[]? BatchPrompts { get; init; }
    public int? PriorSteps { get; init; }
    public float[]? PriorTimesteps { get; init; }
    public float? PriorGuidanceScale { get; init; }
    public string? ModelName { get; init; }

    /// <summary>The image prompts' file names (Stable Cascade image variation), null without; the names only, as <see cref="Source"/>.</summary>
    public string[]? ImagePrompts { get; init; }

    /// <summary>The SHA-256 (lower-case hex) of each image prompt's file, in the order of <see cref="ImagePrompts"/>.</summary>
    public string[]? ImagePromptSha256 { get; init; }

    /// <summary>img2img: the init image's file name (the name only), its SHA-256 and the strength; null for text-to-image.</summary>
    public string? InitImage { get; init; }

    public string? InitImageSha256 { get; init; }

    public double? Strength { get; init; }

    /// <summary>The model family whose prior made it ("wuerstchen-v2", "stable-cascade"); null when unknown (a bare .npy).</summary>
    public string? Family { get; init; }

    /// <summary>"prompt", "image:&lt;file name&gt;" or "file:&lt;file name&gt;" (the name only: metadata is shared, the folders are the user's).</summary>
    public string Source { get; init; } = "prompt";

    /// <summary>The generator state to continue from; null when the embedding was imported or made from an image.</summary>
    public NoiseStream? Stream { get; init; }

    public int LatentHeight => Shape.Length == 3 ? Shape[1] : 0;
    public int LatentWidth => Shape.Length == 3 ? Shape[2] : 0;

    public override string ToString() => $"WuerstchenEmbedding [{string.Join(",", Shape)}] '{Prompt}' seed {Seed}";
}
