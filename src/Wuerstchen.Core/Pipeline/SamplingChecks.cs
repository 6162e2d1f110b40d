namespace Wuerstchen.Core;

internal static class SamplingChecks
{
    /// <summary>The most steps one diffusion stage (prior or decoder) takes.</summary>
    public const int MaxSteps = 1000;

    public static void Steps(int? steps, IReadOnlyList<float>? timesteps, string stepsName, string listName)
    {
        if (timesteps is not null)
        {
            DdpmWuerstchenScheduler.ValidateTimesteps(timesteps, listName);
            return;
        }

        if (steps is < 1 or > MaxSteps)
        {
            throw new WuerstchenException("InvalidStepCount", WuerstchenErrorKind.InvalidArgument,
                $"{stepsName} must be between 1 and {MaxSteps}; got {steps}.", steps);
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

    /// <summary>
    /// A prompt is stored in the image's PNG text or XMP, neither of which can hold NUL (PNG ends a keyword with it; XML
    /// forbids it): refuse it here rather than write a file whose text other readers cut short.
    /// </summary>
    public static void Text(string? text, string name)
    {
        int at = text?.IndexOf('\0') ?? -1;
        if (at >= 0)
        {
            throw new WuerstchenException("InvalidPrompt", WuerstchenErrorKind.InvalidArgument,
                $"{name} contains a NUL character (U+0000) at position {at + 1} ('{IO.TextExcerpt.Of(text!)}'); an image's text cannot hold it. Remove it from the prompt (or the CSV cell).", text);
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
