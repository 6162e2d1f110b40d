using System.Collections;
using System.Globalization;
using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// Reads a declared request parameter (<see cref="RequestParameters"/>) from whatever was bound: an argument, a CSV
/// cell, a pipeline object's property or $PSDefaultParameterValues. A value that does not parse never fails PowerShell's
/// binding: a failed binding skips the record without counting it (so later errors name the wrong row) and says
/// nothing of the row. The failure is kept in <see cref="BindingFailures"/> instead and the cmdlet reports it for the
/// record (or, bound from the command line, for the whole call); the parameter binds as not given meanwhile.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class RequestValueAttribute : ArgumentTransformationAttribute
{
    public RequestValueAttribute(string name) => Name = name;

    public string Name { get; }

    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var parameter = RequestParameters.All[Name];
        try
        {
            return RequestParameters.Parse(parameter, inputData);
        }
        catch (WuerstchenException ex)
        {
            BindingFailures.Add(parameter.Name, ex);
            return null;
        }
    }
}

/// <summary>
/// The parse failures of the current binding, per thread: PowerShell binds a record and calls ProcessRecord on the
/// same (pipeline) thread right after, so the cmdlet takes exactly its own record's failures.
/// </summary>
internal static class BindingFailures
{
    [ThreadStatic]
    private static List<KeyValuePair<string, WuerstchenException>>? _pending;

    public static void Add(string parameter, WuerstchenException ex)
    {
        _pending ??= new();
        // PowerShell may try a binding twice (without, then with type coercion): one failure per parameter
        _pending.RemoveAll(f => f.Key == parameter);
        _pending.Add(new(parameter, ex));
    }

    /// <summary>The failures since the last call, and forgets them.</summary>
    public static IReadOnlyList<WuerstchenException> Take()
    {
        if (_pending is not { Count: > 0 } pending)
        {
            return Array.Empty<WuerstchenException>();
        }

        var result = pending.Select(f => f.Value).ToArray();
        pending.Clear();
        return result;
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
            ImagePrompts = Get<string[]>("ImagePrompts"),
            ImagePromptSha256 = Get<string[]>("ImagePromptSha256"),
            InitImage = Get<string>("InitImage"),
            InitImageSha256 = Get<string>("InitImageSha256"),
            Strength = Get<double?>("Strength"),
            ModelName = Get<string>("ModelName"),
            Family = Get<string>("Family"),
            Source = Get<string>("Source") ?? "object",
            // a live stream (from Select-Object * in this session) still continues; a deserialized one cannot
            Stream = (pso.Properties["Stream"]?.Value is PSObject { BaseObject: var s } ? s : pso.Properties["Stream"]?.Value) as Wuerstchen.Core.NoiseStream,
        };
    }
}
