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
