using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

internal static class ParameterChecks
{
    public static void Exclusive(string a, int? steps, string b, float[]? timesteps)
    {
        if (steps is not null && timesteps is not null)
        {
            throw new WuerstchenException("ConflictingParameters", WuerstchenErrorKind.InvalidArgument,
                $"-{a} and -{b} cannot be used together: give a step count or an explicit timestep list (got {a} {steps} and {b} {string.Join(", ", timesteps)}).", $"{a}={steps}; {b}={string.Join(",", timesteps)}");
        }
    }

    /// <summary>A random seed in the torch range that matters (the generator uses the seed modulo 2^32).</summary>
    public static long RandomSeed() => Random.Shared.NextInt64(0, 1L << 32);

    /// <summary>
    /// Prior settings from the cmdlet parameters: parameters left out (or empty CSV cells) keep the engine's
    /// defaults; no seed → a random one. Validated.
    /// </summary>
    public static PriorSettings Prior(string[] prompts, string? negativePrompt, int? width, int? height, int? imagesPerPrompt,
        long? seed, int? steps, float[]? timesteps, float? guidance)
    {
        Exclusive("PriorSteps", steps, "PriorTimesteps", timesteps);
        var d = new PriorSettings();
        var settings = d with
        {
            Prompts = prompts,
            NegativePrompt = negativePrompt,
            Width = width ?? d.Width,
            Height = height ?? d.Height,
            ImagesPerPrompt = imagesPerPrompt ?? d.ImagesPerPrompt,
            Seed = seed ?? RandomSeed(),
            PriorSteps = steps, // null: the model family's default, filled in by the engine
            PriorTimesteps = timesteps,
            PriorGuidanceScale = guidance,
        };
        settings.Validate();
        return settings;
    }

    /// <summary>Decoder settings from the cmdlet parameters, with the engine's defaults for what is left out. Validated.</summary>
    public static DecoderSettings Decoder(int? steps, float[]? timesteps, float? guidance, long? seed = null, string? prompt = null, string? negativePrompt = null)
    {
        Exclusive("DecoderSteps", steps, "DecoderTimesteps", timesteps);
        var d = new DecoderSettings();
        var settings = d with
        {
            DecoderSteps = steps,
            DecoderTimesteps = timesteps,
            DecoderGuidanceScale = guidance,
            Seed = seed,
            Prompt = prompt,
            NegativePrompt = negativePrompt,
        };
        settings.Validate();
        return settings;
    }
}

/// <summary>Writes generated images (on the worker thread) and emits the results in order (on the pipeline thread).</summary>
internal static class ImageWriter
{
    /// <summary>
    /// Saves each image with a target (null targets were declined by -WhatIf/-Confirm). A default-named image
    /// whose name was taken meanwhile (another runspace writing into the same folder) gets the next free name
    /// from <paramref name="outputs"/>; after Ctrl+C (<paramref name="cancellation"/>) no further image is written.
    /// </summary>
    public static List<(PSObject? File, WuerstchenException? Error)> SaveAll(IReadOnlyList<GeneratedImage> images, IReadOnlyList<string?> targets, bool force,
        OutputPaths outputs, CancellationToken cancellation, int quality = Core.IO.ImageFormats.DefaultQuality)
    {
        var results = new List<(PSObject?, WuerstchenException?)>();
        try
        {
            SaveEach(images, targets, force, outputs, cancellation, results, quality);
        }
        finally
        {
            foreach (var image in images)
            {
                image.Dispose(); // written: the pixel buffers go back to the engine's pool
            }
        }

        return results;
    }

    private static void SaveEach(IReadOnlyList<GeneratedImage> images, IReadOnlyList<string?> targets, bool force,
        OutputPaths outputs, CancellationToken cancellation, List<(PSObject?, WuerstchenException?)> results, int quality)
    {
        for (int i = 0; i < images.Count; i++)
        {
            if (targets[i] is not { } path)
            {
                continue;
            }

            cancellation.ThrowIfCancellationRequested();
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    results.Add((NetworkCmdlet.SaveImagePublic(images[i], path, force, quality), null));
                    break;
                }
                catch (WuerstchenException ex) when (ex.ErrorId == "OutputFileExists" && attempt < 1000 && outputs.NextFree(path) is { } next)
                {
                    path = next;
                }
                catch (WuerstchenException ex)
                {
                    results.Add((null, ex));
                    break;
                }
            }
        }
    }

    public static void Emit(WuerstchenCmdlet cmdlet, List<(PSObject? File, WuerstchenException? Error)> results)
    {
        foreach (var (file, error) in results)
        {
            if (error is not null)
            {
                cmdlet.WriteError(cmdlet.WithRecordContext(WuerstchenCmdlet.ToErrorRecord(error)));
            }
            else
            {
                cmdlet.WriteObject(file);
            }
        }
    }
}
