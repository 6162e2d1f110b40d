using System.Text.Json;

namespace Wuerstchen.Core.Preprocessing;

/// <summary>
/// <see cref="ClipImageSettings.FromJson(JsonElement)"/>: transformers' preprocessor_config.json keys, in the forms
/// transformers' get_size_dict accepts for CLIP (an integer size is the shortest edge, an integer crop_size a square;
/// a scalar mean or std applies to every channel, as its normalize does). Each value is checked before use, so a bad
/// model_index.json is an error naming the key, never a crash or a silently different image.
/// </summary>
internal static class ClipImageSettingsReader
{
    public static string FilterList => string.Join(", ", PilFilter.Supported.OrderBy(f => f.Key).Select(f => $"{f.Key} ({f.Value})"));

    public static ClipImageSettings Read(JsonElement config, string? source)
    {
        var d = ClipImageSettings.Default;
        if (config.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(source, null, config, "a JSON object");
        }

        var (edge, height, width) = Get(config, "size", source, v => Size(v, source, "size", shortestEdge: true), (d.ShortestEdge, d.ResizeHeight, d.ResizeWidth));
        var (_, cropHeight, cropWidth) = Get(config, "crop_size", source, v => Size(v, source, "crop_size", shortestEdge: false), (null, d.CropHeight, d.CropWidth));
        return new ClipImageSettings(edge, height, width, cropHeight!.Value, cropWidth!.Value,
            DoResize: Get(config, "do_resize", source, v => Bool(v, source, "do_resize"), d.DoResize),
            DoCenterCrop: Get(config, "do_center_crop", source, v => Bool(v, source, "do_center_crop"), d.DoCenterCrop),
            DoRescale: Get(config, "do_rescale", source, v => Bool(v, source, "do_rescale"), d.DoRescale),
            RescaleFactor: Get(config, "rescale_factor", source, v => RescaleFactor(v, source), d.RescaleFactor),
            DoNormalize: Get(config, "do_normalize", source, v => Bool(v, source, "do_normalize"), d.DoNormalize),
            Mean: Get(config, "image_mean", source, v => Channels(v, source, "image_mean", allowZero: true), d.Mean),
            Std: Get(config, "image_std", source, v => Channels(v, source, "image_std", allowZero: false), d.Std),
            Resample: Get(config, "resample", source, v => Filter(v, source), d.Resample),
            DoConvertRgb: Get(config, "do_convert_rgb", source, v => Bool(v, source, "do_convert_rgb"), d.DoConvertRgb));
    }

    /// <summary>The key's value read by <paramref name="read"/>, or <paramref name="fallback"/> when it is missing or null (transformers' None).</summary>
    private static T Get<T>(JsonElement config, string key, string? source, Func<JsonElement, T> read, T fallback) =>
        config.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? read(v) : fallback;

    private static (int? Edge, int? Height, int? Width) Size(JsonElement v, string? source, string key, bool shortestEdge)
    {
        string what = shortestEdge
            ? $"an integer or {{\"shortest_edge\": n}} or {{\"height\": h, \"width\": w}}, each 1 to {ClipImageSettings.MaxSide}"
            : $"an integer or {{\"height\": h, \"width\": w}}, each 1 to {ClipImageSettings.MaxSide}";
        if (v.ValueKind == JsonValueKind.Number)
        {
            int n = Side(v) ?? throw Invalid(source, key, v, what);
            return shortestEdge ? (n, null, null) : (null, n, n);
        }

        if (v.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(source, key, v, what);
        }

        var names = v.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
        if (shortestEdge && names.SequenceEqual(new[] { "shortest_edge" }))
        {
            return (Side(v.GetProperty("shortest_edge")) ?? throw Invalid(source, key, v, what), null, null);
        }

        if (names.SequenceEqual(new[] { "height", "width" }) && Side(v.GetProperty("height")) is { } h && Side(v.GetProperty("width")) is { } w)
        {
            return (null, h, w);
        }

        throw Invalid(source, key, v, what);
    }

    private static int? Side(JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n is >= 1 and <= ClipImageSettings.MaxSide ? n : null;

    private static bool Bool(JsonElement v, string? source, string key) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Invalid(source, key, v, "true or false"),
    };

    private static double RescaleFactor(JsonElement v, string? source) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double f) && double.IsFinite(f) && f > 0 ? f
            : throw Invalid(source, "rescale_factor", v, "a positive finite number");

    /// <summary>
    /// Three channel values as float32 (transformers makes them np.float32 arrays before normalising float32 pixels), or
    /// one value for all three. Checked after the conversion: 1e300 is finite as a double but not as a float.
    /// </summary>
    private static float[] Channels(JsonElement v, string? source, string key, bool allowZero)
    {
        var items = v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().ToArray() : new[] { v, v, v };
        var values = items.Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double x) ? (float)x : float.NaN).ToArray();
        if (items.Length != 3 || values.Any(x => !float.IsFinite(x) || (!allowZero && x == 0)))
        {
            throw Invalid(source, key, v, allowZero ? "a number or a list of 3 numbers (finite as float32)" : "a non-zero number or a list of 3 non-zero numbers (finite as float32)");
        }

        return values;
    }

    private static int Filter(JsonElement v, string? source)
    {
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int f) && PilFilter.Supported.ContainsKey(f))
        {
            return f;
        }

        string why = v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n == PilFilter.Nearest
            ? $"a PIL filter reproduced here: {FilterList} (NEAREST, 0, is not)"
            : $"a PIL filter number: {FilterList}";
        throw Invalid(source, "resample", v, why);
    }

    /// <summary>The error for a bad value (<paramref name="key"/> null: the settings themselves), with the value as one short line.</summary>
    private static WuerstchenException Invalid(string? source, string? key, JsonElement value, string what)
    {
        string shown = IO.TextExcerpt.Of(string.Join(" ", value.GetRawText().Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim())));
        string where = source is null ? "" : $" in {source}";
        string problem = key is null ? $"they are {shown}; they must be {what}" : $"the key '{key}' holds {shown}; it must be {what}";
        return new WuerstchenException("InvalidModelIndex", WuerstchenErrorKind.InvalidData,
            $"The CLIP image preprocessing settings (feature_extractor){where} are invalid: {problem}. Fix the value or re-export the model.",
            value.GetRawText());
    }
}
