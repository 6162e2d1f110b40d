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
}

/// <summary>Writes generated images (on the worker thread) and emits the results in order (on the pipeline thread).</summary>
internal static class ImageWriter
{
    public static List<(PSObject? File, WuerstchenException? Error)> SaveAll(IReadOnlyList<GeneratedImage> images, IReadOnlyList<string?> targets, bool force)
    {
        var results = new List<(PSObject?, WuerstchenException?)>();
        for (int i = 0; i < images.Count; i++)
        {
            if (targets[i] is not { } path)
            {
                continue;
            }

            try
            {
                results.Add((NetworkCmdlet.SaveImagePublic(images[i], path, force), null));
            }
            catch (WuerstchenException ex)
            {
                results.Add((null, ex));
            }
        }

        return results;
    }

    public static void Emit(WuerstchenCmdlet cmdlet, List<(PSObject? File, WuerstchenException? Error)> results)
    {
        foreach (var (file, error) in results)
        {
            if (error is not null)
            {
                cmdlet.WriteError(WuerstchenCmdlet.ToErrorRecord(error));
            }
            else
            {
                cmdlet.WriteObject(file);
            }
        }
    }
}
