using System.Globalization;
using System.Text.Json.Nodes;

namespace Wuerstchen.Core;

// The read-back half of the PNG text (and XMP) mapping: ToPngText writes it (GenerationParameters.cs).
public sealed partial record GenerationParameters
{
    /// <summary>
    /// Reads the parameters back from an image's PNG text (as <see cref="ToPngText"/> writes them). Absent keys stay at
    /// their defaults; values that do not parse are treated as absent. <c>prior_seed</c> absent means the prior's seed is <c>seed</c>.
    /// What the command line caps is capped here too, before the value is used or walked: a prompt longer than
    /// <see cref="PromptText.MaxLength"/>, more than 256 batch prompts or a timestep list of more than 1001 values is an
    /// InvalidDataException naming the key (no image the module writes has one).
    /// </summary>
    public static GenerationParameters FromPngText(IEnumerable<KeyValuePair<string, string>> chunks)
    {
        var text = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in chunks)
        {
            text.TryAdd(key, value);
        }

        string? S(string key) => text.TryGetValue(key, out var v) ? v : null;
        long seed = ParseLong(S(PngKeys.Seed)) ?? 0;
        Recorded(() =>
        {
            PromptText.Check(S(PngKeys.Prompt), PngKeys.Prompt);
            PromptText.Check(S(PngKeys.NegativePrompt), PngKeys.NegativePrompt);
        });
        var batch = ParseTexts(S(PngKeys.BatchPrompts));
        if (batch is not null)
        {
            Recorded(() =>
            {
                if (batch.Length > PriorSettings.MaxPrompts)
                {
                    throw new WuerstchenException("TooManyPrompts", WuerstchenErrorKind.InvalidData, $"{PngKeys.BatchPrompts} holds {batch.Length} prompts; one call takes at most {PriorSettings.MaxPrompts}.", batch.Length);
                }

                foreach (var prompt in batch)
                {
                    PromptText.Check(prompt, PngKeys.BatchPrompts);
                }
            });
        }

        return new GenerationParameters
        {
            Prompt = S(PngKeys.Prompt) ?? "",
            NegativePrompt = S(PngKeys.NegativePrompt) is { Length: > 0 } negative ? negative : null,
            Seed = seed,
            Width = (int)(ParseLong(S(PngKeys.Width)) ?? 0),
            Height = (int)(ParseLong(S(PngKeys.Height)) ?? 0),
            PromptIndex = (int)(ParseLong(S(PngKeys.PromptIndex)) ?? 0),
            ImageIndex = (int)(ParseLong(S(PngKeys.ImageIndex)) ?? 0),
            ImagesPerPrompt = (int)(ParseLong(S(PngKeys.ImagesPerPrompt)) ?? 1),
            BatchPrompts = batch,
            PriorSteps = (int?)ParseLong(S(PngKeys.PriorSteps)),
            PriorTimesteps = ParseFloats(S(PngKeys.PriorTimesteps), PngKeys.PriorTimesteps),
            PriorGuidanceScale = ParseFloat(S(PngKeys.PriorGuidanceScale)),
            ImagePrompts = ParseTexts(S(PngKeys.ImagePrompts)),
            ImagePromptSha256 = ParseTexts(S(PngKeys.ImagePromptSha256)),
            InitImage = S(PngKeys.InitImage) is { Length: > 0 } initImage ? initImage : null,
            InitImageSha256 = S(PngKeys.InitImageSha256),
            Strength = double.TryParse(S(PngKeys.Strength), NumberStyles.Float, CultureInfo.InvariantCulture, out var strength) ? strength : null,
            DecoderSteps = (int?)ParseLong(S(PngKeys.DecoderSteps)),
            DecoderTimesteps = ParseFloats(S(PngKeys.DecoderTimesteps), PngKeys.DecoderTimesteps),
            DecoderGuidanceScale = ParseFloat(S(PngKeys.DecoderGuidanceScale)),
            PriorSeed = ParseLong(S(PngKeys.PriorSeed)) ?? seed,
            Source = S(PngKeys.Source) ?? "prompt",
            ModelName = S(PngKeys.Model) is { Length: > 0 } model ? model : null,
            ModelFamily = S(PngKeys.ModelFamily),
        };
    }

    /// <summary>The command line's cap on a recorded value (<see cref="FromPngText"/>): a value over it is the file's fault.</summary>
    private static void Recorded(Action check)
    {
        try
        {
            check();
        }
        catch (WuerstchenException ex)
        {
            throw new InvalidDataException($"its recorded parameters are beyond what the module takes: {ex.Message}", ex);
        }
    }
}
