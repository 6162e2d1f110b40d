using System.Collections;
using System.Globalization;
using System.Management.Automation;
using Wuerstchen.Core;
using Keys = Wuerstchen.Core.GenerationParameters.PngKeys;

namespace Wuerstchen.PowerShell;

/// <summary>How a parameter's value is read from a command-line argument, a CSV cell or a pipeline object's property.</summary>
public enum ValueKind
{
    /// <summary>One text; empty or whitespace means "not given".</summary>
    Text,

    /// <summary>A whole number (int); a fraction is an error, never rounded.</summary>
    Whole,

    /// <summary>A whole number (long); a fraction is an error, never rounded.</summary>
    LongWhole,

    /// <summary>A number (float), invariant culture: '.' is the decimal point, a comma is an error.</summary>
    Number,

    /// <summary>A number kept as a double (Strength: ⌊steps · strength⌋ must be what diffusers computes from the text, 0.7 · 10 = 7).</summary>
    Real,

    /// <summary>A list of numbers: an array, or a text "1, 0.5, 0" (here the comma separates values).</summary>
    NumberList,

    /// <summary>One name of an enum (ExecutionProviderKind).</summary>
    Choice,

    /// <summary>Several texts: an array, or a JSON array as text (how the image metadata records them).</summary>
    TextList,

    /// <summary>Several file paths: an array, or one text (never read as JSON: a file may be named '[1].png').</summary>
    PathList,
}

/// <summary>
/// One generation parameter, declared once: its name (the cmdlet parameter, the CSV column, the output and read-back
/// property), how its value is read, its range where the PowerShell layer checks it (the engine checks the rest against
/// the model's family), its fixed default (null: none, or the family's, filled in by the engine's WithDefaults) and its
/// key in the image metadata (PNG text / XMP; null: not recorded).
/// </summary>
public sealed record RequestParameter(string Name, ValueKind Kind, string? MetadataKey = null, long Min = long.MinValue,
    long Max = long.MaxValue, object? Default = null, Type? ChoiceType = null)
{
    public override string ToString() => Name;
}

/// <summary>
/// The declaration of every value a generation request takes from the command line, a CSV cell, a pipeline object
/// or $PSDefaultParameterValues, and the one parsing rule for all of them (<see cref="Parse"/>). The cmdlets' properties
/// carry <see cref="RequestValueAttribute"/> with the name declared here; the image metadata keys are the engine's.
/// </summary>
public static class RequestParameters
{
    public static readonly RequestParameter NegativePrompt = new("NegativePrompt", ValueKind.Text, Keys.NegativePrompt);
    public static readonly RequestParameter Width = new("Width", ValueKind.Whole, Keys.Width, Default: 1024);
    public static readonly RequestParameter Height = new("Height", ValueKind.Whole, Keys.Height, Default: 1024);
    public static readonly RequestParameter ImagesPerPrompt = new("ImagesPerPrompt", ValueKind.Whole, Keys.ImagesPerPrompt, Default: 1);
    public static readonly RequestParameter Seed = new("Seed", ValueKind.LongWhole, Keys.Seed);
    public static readonly RequestParameter PriorSteps = new("PriorSteps", ValueKind.Whole, Keys.PriorSteps);
    public static readonly RequestParameter PriorTimesteps = new("PriorTimesteps", ValueKind.NumberList, Keys.PriorTimesteps);
    public static readonly RequestParameter PriorGuidanceScale = new("PriorGuidanceScale", ValueKind.Number, Keys.PriorGuidanceScale);
    public static readonly RequestParameter DecoderSteps = new("DecoderSteps", ValueKind.Whole, Keys.DecoderSteps);
    public static readonly RequestParameter DecoderTimesteps = new("DecoderTimesteps", ValueKind.NumberList, Keys.DecoderTimesteps);
    public static readonly RequestParameter DecoderGuidanceScale = new("DecoderGuidanceScale", ValueKind.Number, Keys.DecoderGuidanceScale);
    public static readonly RequestParameter BatchPrompts = new("BatchPrompts", ValueKind.TextList, Keys.BatchPrompts);
    // the metadata records file names, which come back as the Literal twins (no wildcards, no ';' lists), with their
    // SHA-256 so that a remake from another file of the same name is refused
    public static readonly RequestParameter ImagePrompt = new("ImagePrompt", ValueKind.PathList);
    public static readonly RequestParameter LiteralImagePrompt = new("LiteralImagePrompt", ValueKind.PathList, Keys.ImagePrompts);
    public static readonly RequestParameter ImagePromptSha256 = new("ImagePromptSha256", ValueKind.TextList, Keys.ImagePromptSha256);
    public static readonly RequestParameter InitImage = new("InitImage", ValueKind.Text);
    public static readonly RequestParameter LiteralInitImage = new("LiteralInitImage", ValueKind.Text, Keys.InitImage);
    public static readonly RequestParameter InitImageSha256 = new("InitImageSha256", ValueKind.Text, Keys.InitImageSha256);
    public static readonly RequestParameter Strength = new("Strength", ValueKind.Real, Keys.Strength);
    public static readonly RequestParameter PromptIndex = new("PromptIndex", ValueKind.Whole, Keys.PromptIndex, 0, PriorSettings.MaxPrompts - 1);
    public static readonly RequestParameter ImageIndex = new("ImageIndex", ValueKind.Whole, Keys.ImageIndex, 0, PriorSettings.MaxImagesPerPrompt - 1);
    public static readonly RequestParameter Quality = new("Quality", ValueKind.Whole, null, 1, 100, Core.IO.ImageFormats.DefaultQuality);
    public static readonly RequestParameter OutputPath = new("OutputPath", ValueKind.Text);
    public static readonly RequestParameter ModelPath = new("ModelPath", ValueKind.Text);
    public static readonly RequestParameter ExecutionProvider = new("ExecutionProvider", ValueKind.Choice, ChoiceType: typeof(ExecutionProviderKind));
    public static readonly RequestParameter DeviceId = new("DeviceId", ValueKind.Whole, null, 0, 64);
    public static readonly RequestParameter GpuMemoryLimitMB = new("GpuMemoryLimitMB", ValueKind.Whole, null, 0, 1 << 22);

    /// <summary>Every declared parameter by name (the binding-matrix tests walk this).</summary>
    public static readonly IReadOnlyDictionary<string, RequestParameter> All = new[]
    {
        NegativePrompt, Width, Height, ImagesPerPrompt, Seed, PriorSteps, PriorTimesteps, PriorGuidanceScale, DecoderSteps,
        DecoderTimesteps, DecoderGuidanceScale, BatchPrompts, ImagePrompt, LiteralImagePrompt, ImagePromptSha256, InitImage, LiteralInitImage, InitImageSha256, Strength, PromptIndex, ImageIndex, Quality, OutputPath, ModelPath, ExecutionProvider, DeviceId, GpuMemoryLimitMB,
    }.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The value of <paramref name="p"/> from what was bound: null, "" or whitespace → null ("not given"); otherwise
    /// the typed value, or a <see cref="WuerstchenException"/> naming the parameter, the value and what to write instead.
    /// </summary>
    public static object? Parse(RequestParameter p, object? input)
    {
        var value = input is PSObject pso ? pso.BaseObject : input;
        if (value is null || (value is string blank && string.IsNullOrWhiteSpace(blank)))
        {
            return null;
        }

        if (value is string typeName && typeName.EndsWith("[]", StringComparison.Ordinal) && typeName.StartsWith("System.", StringComparison.Ordinal))
        {
            // Export-Csv writes an array property as its type name: the values are gone, so say how to keep them
            throw Bad(p, typeName, "ArrayLostInCsv", $"'{p.Name}' holds '{typeName}', the type name Export-Csv writes for a list: the values were lost when the CSV was written. "
                + $"Join them first, e.g. Select-Object @{{n='{p.Name}'; e={{ $_.{p.Name} -join ';' }}}}, or keep the objects (Export-Clixml).");
        }

        if (p.Kind == ValueKind.NumberList)
        {
            return NumberList(p, value);
        }

        if (p.Kind == ValueKind.TextList)
        {
            return TextList(p, value);
        }

        if (p.Kind == ValueKind.PathList)
        {
            return value is IEnumerable paths and not string
                ? paths.Cast<object?>().Select(i => i is null ? throw Bad(p, "$null", "InvalidPath", $"'{p.Name}' holds $null; give file paths.") : LanguagePrimitives.ConvertTo<string>(i)).ToArray()
                : new[] { LanguagePrimitives.ConvertTo<string>(value) };
        }

        if (value is IList list)
        {
            // one cell holding one value is how a 1-element array arrives from some converters; more is an error
            if (list.Count != 1)
            {
                throw Bad(p, value, "NotOneValue", $"'{p.Name}' takes one value; got {list.Count}. Give one value (one row per value).");
            }

            return Parse(p, list[0]);
        }

        return p.Kind switch
        {
            ValueKind.Text => value as string ?? LanguagePrimitives.ConvertTo<string>(value),
            ValueKind.Whole => (int)InRange(p, Whole(p, value, int.MinValue, int.MaxValue)),
            ValueKind.LongWhole => InRange(p, Whole(p, value, long.MinValue, long.MaxValue)),
            ValueKind.Number => (float)Number(p, value),
            // a float (a [single] property) as the decimal it shows, 0.7 and not 0.699999988: ⌊steps · strength⌋ depends on it
            ValueKind.Real => value is float f ? double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + 0.0 : Number(p, value) + 0.0,
            ValueKind.Choice => Choice(p, value),
            _ => throw new ArgumentOutOfRangeException(nameof(p)),
        };
    }

    private static long InRange(RequestParameter p, long v) => v < p.Min || v > p.Max
        ? throw Bad(p, v, "ValueOutOfRange", $"'{p.Name}' must be from {p.Min} to {p.Max}; got '{v}'.")
        : v;

    private static long Whole(RequestParameter p, object value, long min, long max)
    {
        double d;
        if (value is string s)
        {
            s = s.Trim();
            if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var exact))
            {
                return exact >= min && exact <= max ? exact : throw OutOfType(p, s, min, max);
            }

            if (s.Contains(','))
            {
                throw Bad(p, s, "InvalidWholeNumber", $"'{p.Name}' got '{s}', which is not a whole number: write digits only, with no ',' (thousands or decimals), e.g. '42'.");
            }

            if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d))
            {
                throw Bad(p, s, "InvalidWholeNumber", $"'{p.Name}' got '{s}', which is not a whole number; write digits, e.g. '42'.");
            }
        }
        else if (value is bool or char || value is not IConvertible)
        {
            throw Bad(p, value, "InvalidWholeNumber", $"'{p.Name}' got '{value}' ({value.GetType().Name}), which is not a whole number; write digits, e.g. '42'.");
        }
        else
        {
            d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
        }

        if (d != Math.Floor(d) || double.IsInfinity(d))
        {
            string text = d.ToString("R", CultureInfo.InvariantCulture);
            throw Bad(p, value, "InvalidWholeNumber",
                $"'{p.Name}' got '{text}', which is not a whole number (it is not rounded): write '{Math.Floor(d).ToString("R", CultureInfo.InvariantCulture)}' or '{Math.Ceiling(d).ToString("R", CultureInfo.InvariantCulture)}'.");
        }

        return d >= min && d <= max ? (long)d : throw OutOfType(p, value, min, max);
    }

    private static double Number(RequestParameter p, object value)
    {
        if (value is string s)
        {
            s = s.Trim();
            if (s.Contains(','))
            {
                // what a German or French Excel writes: "4,5" would otherwise be read as 45
                throw Bad(p, s, "InvalidNumber", $"'{p.Name}' got '{s}', which has a comma; numbers use '.' as the decimal point: write '{s.Replace(',', '.')}'.");
            }

            // NaN and ∞ parse: the engine's range checks name them (InvalidGuidanceScale, InvalidTimesteps)
            return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                ? d
                : throw Bad(p, s, "InvalidNumber", $"'{p.Name}' got '{s}', which is not a number; write e.g. '4.5'.");
        }

        return value is IConvertible and not (bool or char or DateTime)
            ? Convert.ToDouble(value, CultureInfo.InvariantCulture)
            : throw Bad(p, value, "InvalidNumber", $"'{p.Name}' got '{value}', which is not a number; write e.g. '4.5'.");
    }

    private static readonly char[] ListSeparators = { ',', ' ', ';', '\t' };

    private static float[] NumberList(RequestParameter p, object value)
    {
        if (value is string text)
        {
            // counted before it is split: a cell of millions of values is refused without making millions of strings
            DdpmWuerstchenScheduler.CheckCount(CountValues(text), p.Name);
            var parts = text.Split(ListSeparators, StringSplitOptions.RemoveEmptyEntries);
            return parts.Select(part => (float)Number(p, part)).ToArray();
        }

        if (value is ICollection collection)
        {
            DdpmWuerstchenScheduler.CheckCount(collection.Count, p.Name); // each item is one value or more
        }

        if (value is IEnumerable items)
        {
            var list = new List<float>();
            foreach (var item in items)
            {
                var one = item is PSObject ip ? ip.BaseObject : item;
                if (one is string s && s.IndexOfAny(ListSeparators) >= 0)
                {
                    list.AddRange(NumberList(p, s));
                }
                else
                {
                    list.Add((float)Number(p, one ?? throw Bad(p, "$null", "InvalidNumber", $"'{p.Name}' holds $null; give numbers, e.g. '1, 0.5, 0'.")));
                }
            }

            return list.ToArray();
        }

        return new[] { (float)Number(p, value) };
    }

    /// <summary>How many values <see cref="NumberList"/> would split <paramref name="text"/> into, without splitting it.</summary>
    private static long CountValues(string text)
    {
        long count = 0;
        bool inValue = false;
        foreach (char c in text)
        {
            bool separator = Array.IndexOf(ListSeparators, c) >= 0;
            count += !separator && !inValue ? 1 : 0;
            inValue = !separator;
        }

        return count;
    }

    private static string[] TextList(RequestParameter p, object value)
    {
        if (value is string text)
        {
            if (!text.TrimStart().StartsWith('['))
            {
                return new[] { text };
            }

            try
            {
                return System.Text.Json.JsonSerializer.Deserialize<string[]>(text) is { } texts && texts.All(t => t is not null)
                    ? texts
                    : throw Bad(p, text, "InvalidTextList", $"'{p.Name}' got '{text}', which holds a null; give texts.");
            }
            catch (System.Text.Json.JsonException)
            {
                throw Bad(p, text, "InvalidTextList", $"'{p.Name}' got '{text}', which is not a JSON array of texts such as '[\"a\", \"b\"]'.");
            }
        }

        return value is IEnumerable items
            ? items.Cast<object?>().Select(i => i is null ? throw Bad(p, "$null", "InvalidTextList", $"'{p.Name}' holds $null; give texts.") : LanguagePrimitives.ConvertTo<string>(i)).ToArray()
            : new[] { LanguagePrimitives.ConvertTo<string>(value) };
    }

    private static object Choice(RequestParameter p, object value)
    {
        var type = p.ChoiceType!;
        if (type.IsInstanceOfType(value))
        {
            return value;
        }

        string text = value.ToString() ?? "";
        return Enum.TryParse(type, text.Trim(), ignoreCase: true, out var parsed) && Enum.IsDefined(type, parsed!)
            ? parsed!
            : throw Bad(p, text, "InvalidChoice", $"'{p.Name}' got '{text}', which is not one of {string.Join(", ", Enum.GetNames(type))}.");
    }

    private static WuerstchenException OutOfType(RequestParameter p, object value, long min, long max) =>
        Bad(p, value, "ValueOutOfRange", $"'{p.Name}' got '{value}', which is outside {min} to {max}.");

    private static WuerstchenException Bad(RequestParameter p, object value, string id, string message) =>
        new(id, WuerstchenErrorKind.InvalidArgument, message, value);
}
