using System.Collections;
using System.Globalization;
using System.Management.Automation;

namespace Wuerstchen.PowerShell;

/// <summary>
/// Lets a timestep list come from a CSV cell or the command line as text ("1, 0.5, 0" or "1 0.5 0"),
/// as well as an array of numbers.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class FloatListTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject pso ? pso.BaseObject : inputData;
        if (value is string text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                return null; // an empty CSV cell: not given
            }

            var parts = text.Split(new[] { ',', ' ', ';', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            var result = new float[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out result[i]))
                {
                    throw new ArgumentTransformationMetadataException($"'{parts[i]}' in '{text}' is not a number; give timesteps as numbers descending from 1 to 0, e.g. '1, 0.5, 0'.");
                }
            }

            return result;
        }

        if (value is IEnumerable list and not string)
        {
            var items = new List<object?>();
            foreach (var item in list)
            {
                items.Add(item is PSObject p ? p.BaseObject : item);
            }

            if (items.Count == 1 && items[0] is string single)
            {
                return Transform(engineIntrinsics, single);
            }

            return items.ToArray();
        }

        return inputData;
    }
}

/// <summary>
/// An empty CSV cell (or whitespace) means "not given": it binds as null, so the parameter keeps its
/// default instead of PowerShell's conversion of "" to 0. With a target type, any other value is converted
/// here, so a value that does not convert (a CSV cell 'abc' for -Seed) is an error naming it: PowerShell
/// silently drops pipeline-by-property-name values it cannot convert, which would run the row with the
/// default (a random seed, 1024 pixels …) instead.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class EmptyAsNullAttribute : ArgumentTransformationAttribute
{
    public EmptyAsNullAttribute()
    {
    }

    public EmptyAsNullAttribute(Type targetType) => TargetType = targetType;

    /// <summary>The type non-empty values are converted to (the parameter's type without Nullable).</summary>
    public Type? TargetType { get; }

    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject pso ? pso.BaseObject : inputData;
        if (value is string s && string.IsNullOrWhiteSpace(s))
        {
            return null;
        }

        if (TargetType is null || value is null || TargetType.IsInstanceOfType(value))
        {
            return inputData;
        }

        try
        {
            return LanguagePrimitives.ConvertTo(value, TargetType, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is PSInvalidCastException or InvalidCastException or FormatException or OverflowException or ArgumentException)
        {
            string expected = TargetType == typeof(int) ? $"a whole number from {int.MinValue} to {int.MaxValue}"
                : TargetType == typeof(long) ? $"a whole number from {long.MinValue} to {long.MaxValue}"
                : TargetType == typeof(float) || TargetType == typeof(double) ? "a number" : $"a {TargetType.Name}";
            throw new ArgumentTransformationMetadataException($"'{value}' is not {expected}.", ex);
        }
    }
}

/// <summary>
/// Lets an embedding come back from Import-Clixml or ConvertFrom-Json and bind as a [pscustomobject] with the same
/// properties does: PowerShell's own conversion fails on such objects because they also carry the read-only
/// properties (Channels, LatentHeight …) and a generator stream that cannot be rebuilt. The settable values are
/// taken; a deserialized stream is not (the embedding decodes with a fresh generator, like an imported one).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class EmbeddingTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject pso ? pso.BaseObject : inputData;
        if (value is IEnumerable list and not string and not IDictionary)
        {
            var items = new List<object?>();
            foreach (var item in list)
            {
                items.Add(One(item));
            }

            return items.ToArray();
        }

        return One(inputData);
    }

    private static object? One(object? item)
    {
        if (item is not PSObject pso || pso.BaseObject is not PSCustomObject)
        {
            return item; // an embedding, or something PowerShell's binder will refuse with its own message
        }

        if (pso.Properties["Shape"] is null && pso.Properties["Data"] is null)
        {
            return item; // not an embedding's record
        }

        T? Get<T>(string name)
        {
            var v = pso.Properties[name]?.Value;
            v = v is PSObject p ? p.BaseObject : v;
            if (v is null || (v is string s && s.Length == 0 && typeof(T) != typeof(string)))
            {
                return default;
            }

            try
            {
                return LanguagePrimitives.ConvertTo<T>(v);
            }
            catch (PSInvalidCastException ex)
            {
                throw new ArgumentTransformationMetadataException($"The embedding's {name} '{v}' is not a {typeof(T).Name}: {ex.Message}", ex);
            }
        }

        return new Wuerstchen.Core.WuerstchenEmbedding
        {
            Prompt = Get<string>("Prompt") ?? "",
            NegativePrompt = Get<string>("NegativePrompt"),
            Seed = Get<long>("Seed"),
            Width = Get<int>("Width"),
            Height = Get<int>("Height"),
            Shape = Get<int[]>("Shape")!,
            Data = Get<float[]>("Data")!,
            PromptIndex = Get<int>("PromptIndex"),
            ImageIndex = Get<int>("ImageIndex"),
            PriorSteps = Get<int?>("PriorSteps"),
            PriorTimesteps = Get<float[]>("PriorTimesteps"),
            PriorGuidanceScale = Get<float?>("PriorGuidanceScale"),
            ModelName = Get<string>("ModelName"),
            Family = Get<string>("Family"),
            Source = Get<string>("Source") ?? "object",
            // a live stream (from Select-Object * in this session) still continues; a deserialized one cannot
            Stream = (pso.Properties["Stream"]?.Value is PSObject { BaseObject: var s } ? s : pso.Properties["Stream"]?.Value) as Wuerstchen.Core.NoiseStream,
        };
    }
}
