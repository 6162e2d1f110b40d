namespace Wuerstchen.Core;

/// <summary>
/// The latent sizes of one image size (reference §9.1): prior h = ceil(H / 42.67), decoder H4 = floor(h · 10.67),
/// image 4 · H4 (Stage A up-samples 4×). For 128-pixel steps the image is exactly H; for the other sizes Stable Cascade
/// runs, it is what diffusers' pipelines give (1000 → 1024).
/// </summary>
public readonly record struct LatentSize(int PriorWidth, int PriorHeight, int DecoderWidth, int DecoderHeight)
{
    /// <summary>Pixel size of the decoded image: 4 · H4 (Stage A up-samples 4×).</summary>
    public int OutputWidth => 4 * DecoderWidth;

    public int OutputHeight => 4 * DecoderHeight;
}

/// <summary>
/// Which image sides a model runs: 128 to 4096 pixels, within that the family's <see cref="SizeRule"/> (the contract's
/// "sizes": Würstchen v2 in 128-pixel steps, Stable Cascade any side whose decoder latent is even).
/// </summary>
public static class ImageSize
{
    /// <summary>The 128-pixel grid every family runs exactly (completers and the image → embedding size use it).</summary>
    public const int Step = 128;
    public const int Min = 128;
    public const int Max = 4096;

    /// <summary>Latent sizes for a pixel size, checked against the folder's family.</summary>
    public static LatentSize Compute(int width, int height, ModelConfig config)
    {
        Validate(width, "Width", config);
        Validate(height, "Height", config);
        int h = PriorLatent(height, config), w = PriorLatent(width, config);
        return new LatentSize(w, h, (int)(w * config.LatentDimScale), (int)(h * config.LatentDimScale));
    }

    /// <summary>Decoder latent size for a prior latent size (used when an embedding comes from a file or an image).</summary>
    public static LatentSize FromPrior(int priorWidth, int priorHeight, ModelConfig config)
    {
        int dw = (int)(priorWidth * config.LatentDimScale);
        int dh = (int)(priorHeight * config.LatentDimScale);
        return new LatentSize(priorWidth, priorHeight, dw, dh);
    }

    /// <summary>The range every family shares, checked before a model is known (the family's rule comes with the model).</summary>
    public static void ValidateRange(int value, string parameterName)
    {
        if (value < Min)
        {
            throw Invalid(value, $"{parameterName} {value} is too small: images are {Min} to {Max} pixels; the nearest valid size is {Min}.");
        }

        if (value > Max)
        {
            throw Invalid(value, $"{parameterName} {value} is too large: images are {Min} to {Max} pixels; the nearest valid size is {Max}.");
        }
    }

    /// <summary>Würstchen v2's rule (128-pixel steps), for callers without a model folder.</summary>
    public static void Validate(int value, string parameterName) => Validate(value, parameterName, ModelConfig.Default);

    /// <summary>Rejects sizes the family's decoder cannot take, naming the nearest valid sizes.</summary>
    public static void Validate(int value, string parameterName, ModelConfig config)
    {
        ValidateRange(value, parameterName);
        var rule = config.Family.Sizes;
        if (value % rule.Step != 0)
        {
            var (lower, upper) = Nearest(value, config);
            throw Invalid(value, $"{parameterName} {value} is not a multiple of {rule.Step}: the {config.Family.DisplayName} decoder only works in {rule.Step}-pixel steps. Nearest valid sizes: {lower} or {upper}.");
        }

        if (!IsValid(value, config))
        {
            var (lower, upper) = Nearest(value, config);
            int h4 = DecoderLatent(value, config);
            throw Invalid(value, $"{parameterName} {value} gives a decoder latent of {h4}, which the {config.Family.DisplayName} decoder cannot take "
                + $"(it must be a multiple of {rule.DecoderLatentMultiple}; diffusers' pipeline fails there too). Nearest valid sizes: {lower} or {upper}.");
        }
    }

    /// <summary>Whether the family's decoder runs this side (range, step and decoder latent).</summary>
    public static bool IsValid(int value, ModelConfig config)
    {
        var rule = config.Family.Sizes;
        return value >= Min && value <= Max && value % rule.Step == 0 && rule.DecoderTakes(DecoderLatent(value, config));
    }

    /// <summary>The valid sides just below and just above a value (each clamped to the range).</summary>
    public static (int Lower, int Upper) Nearest(int value, ModelConfig config)
    {
        int start = Math.Clamp(value, Min, Max);
        int lower = start, upper = start;
        while (lower > Min && !IsValid(lower, config))
        {
            lower--;
        }

        while (upper < Max && !IsValid(upper, config))
        {
            upper++;
        }

        return (IsValid(lower, config) ? lower : upper, IsValid(upper, config) ? upper : lower);
    }

    private static int PriorLatent(int side, ModelConfig config) => (int)Math.Ceiling(side / config.ResolutionMultiple);

    private static int DecoderLatent(int side, ModelConfig config) => (int)(PriorLatent(side, config) * config.LatentDimScale);

    private static WuerstchenException Invalid(int value, string message) =>
        new("InvalidImageSize", WuerstchenErrorKind.InvalidArgument, message, value);
}
