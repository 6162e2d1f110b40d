namespace Wuerstchen.Core;

/// <summary>
/// The size rules of Würstchen v2 (reference §9.1): h = ceil(H / 42.67), H4 = floor(h · 10.67), and the
/// decoder only works when H is a multiple of 128 pixels (h a multiple of 3, H4 a multiple of 32).
/// </summary>
public readonly record struct LatentSize(int PriorWidth, int PriorHeight, int DecoderWidth, int DecoderHeight)
{
    /// <summary>Pixel size of the decoded image: 4 · H4 (Stage A up-samples 4×).</summary>
    public int OutputWidth => 4 * DecoderWidth;

    public int OutputHeight => 4 * DecoderHeight;
}

public static class ImageSize
{
    public const int Step = 128;
    public const int Min = 128;
    public const int Max = 4096;

    /// <summary>Latent sizes for a validated pixel size.</summary>
    public static LatentSize Compute(int width, int height, ModelConfig config)
    {
        Validate(width, "Width");
        Validate(height, "Height");
        int h = (int)Math.Ceiling(height / config.ResolutionMultiple);
        int w = (int)Math.Ceiling(width / config.ResolutionMultiple);
        return new LatentSize(w, h, (int)(w * config.LatentDimScale), (int)(h * config.LatentDimScale));
    }

    /// <summary>Decoder latent size for a prior latent size (used when an embedding comes from a file or an image).</summary>
    public static LatentSize FromPrior(int priorWidth, int priorHeight, ModelConfig config)
    {
        int dw = (int)(priorWidth * config.LatentDimScale);
        int dh = (int)(priorHeight * config.LatentDimScale);
        return new LatentSize(priorWidth, priorHeight, dw, dh);
    }

    /// <summary>Rejects sizes that do not give a working decoder, naming the nearest valid sizes.</summary>
    public static void Validate(int value, string parameterName)
    {
        if (value >= Min && value <= Max && value % Step == 0)
        {
            return;
        }

        string message;
        if (value < Min)
        {
            message = $"{parameterName} {value} is too small: Würstchen images are {Min} to {Max} pixels in {Step}-pixel steps; the nearest valid size is {Min}.";
        }
        else if (value > Max)
        {
            message = $"{parameterName} {value} is too large: Würstchen images are {Min} to {Max} pixels in {Step}-pixel steps; the nearest valid size is {Max}.";
        }
        else
        {
            var (lower, upper) = Nearest(value);
            message = $"{parameterName} {value} is not a multiple of {Step}: the Würstchen decoder only works in {Step}-pixel steps. Nearest valid sizes: {lower} or {upper}.";
        }

        throw new WuerstchenException("InvalidImageSize", WuerstchenErrorKind.InvalidArgument,
            message, value);
    }

    /// <summary>The valid sizes just below and just above a value (clamped to the range).</summary>
    public static (int Lower, int Upper) Nearest(int value)
    {
        int lower = Math.Clamp(value / Step * Step, Min, Max);
        int upper = Math.Clamp((int)Math.Min((long)lower + Step, Max), Min, Max);
        if (value <= Min)
        {
            return (Min, Min);
        }

        return (lower, upper);
    }
}
