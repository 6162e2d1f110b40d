using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wuerstchen.Core.Preprocessing;

/// <summary>
/// The settings of transformers' <c>CLIPImageProcessor</c> (the keys of its preprocessor_config.json), which the
/// module reads from model_index.json. <c>size</c> is either the shortest edge (<see cref="ShortestEdge"/>) or an
/// exact height and width (<see cref="ResizeHeight"/>, <see cref="ResizeWidth"/>); exactly one form is set.
/// <see cref="DoConvertRgb"/> is recorded but images are always read as RGB: transformers without the conversion
/// fails on anything but RGB, and an RGB image is the same either way.
/// </summary>
public sealed record ClipImageSettings(
    int? ShortestEdge, int? ResizeHeight, int? ResizeWidth,
    int CropHeight, int CropWidth, bool DoResize, bool DoCenterCrop, bool DoRescale, double RescaleFactor,
    bool DoNormalize, float[] Mean, float[] Std, int Resample, bool DoConvertRgb)
{
    /// <summary>Largest size, crop side accepted (the real CLIP encoders take 224 or 336).</summary>
    public const int MaxSide = 4096;

    /// <summary>transformers' OPENAI_CLIP_MEAN and OPENAI_CLIP_STD, CLIPImageProcessor's defaults.</summary>
    private static readonly double[] ClipMean = { 0.48145466, 0.4578275, 0.40821073 };
    private static readonly double[] ClipStd = { 0.26862954, 0.26130258, 0.27577711 };

    /// <summary>
    /// <c>CLIPImageProcessor()</c>'s defaults (what Stable Cascade's feature_extractor holds): shortest edge 224, crop
    /// 224×224, bicubic, rescale by 1/255, the OpenAI CLIP mean and std, every step on. A new instance each time:
    /// the mean and std are arrays, which a caller could change.
    /// </summary>
    public static ClipImageSettings Default => new(224, null, null, 224, 224, true, true, true, 1.0 / 255, true,
        ClipMean.Select(v => (float)v).ToArray(), ClipStd.Select(v => (float)v).ToArray(), PilFilter.Bicubic, true);

    /// <summary>
    /// Reads a preprocessor_config.json object (transformers' keys; others, such as image_processor_type, are ignored;
    /// a missing or null key takes <see cref="Default"/>'s value). A value out of range or of the wrong type is an
    /// InvalidModelIndex error naming the key and the value.
    /// </summary>
    public static ClipImageSettings FromJson(JsonElement preprocessorConfig) => ClipImageSettingsReader.Read(preprocessorConfig, null);

    /// <summary>The same, naming <paramref name="source"/> (e.g. "the model index '…/model_index.json'") in errors.</summary>
    public static ClipImageSettings FromJson(JsonElement preprocessorConfig, string? source) => ClipImageSettingsReader.Read(preprocessorConfig, source);

    /// <summary>
    /// The settings as transformers writes preprocessor_config.json (sorted keys, image_processor_type included), so
    /// <see cref="FromJson(JsonElement)"/> of it gives these settings back.
    /// </summary>
    public JsonObject ToJson()
    {
        JsonNode Size(int h, int w) => new JsonObject { ["height"] = h, ["width"] = w };
        JsonNode Floats(float[] v) => new JsonArray(v.Select(x => (JsonNode)JsonValue.Create(x)).ToArray());
        return new JsonObject
        {
            ["crop_size"] = Size(CropHeight, CropWidth),
            ["do_center_crop"] = DoCenterCrop,
            ["do_convert_rgb"] = DoConvertRgb,
            ["do_normalize"] = DoNormalize,
            ["do_rescale"] = DoRescale,
            ["do_resize"] = DoResize,
            ["image_mean"] = Floats(Mean),
            ["image_processor_type"] = "CLIPImageProcessor",
            ["image_std"] = Floats(Std),
            ["resample"] = Resample,
            ["rescale_factor"] = RescaleFactor,
            ["size"] = ShortestEdge is { } s ? new JsonObject { ["shortest_edge"] = s } : Size(ResizeHeight!.Value, ResizeWidth!.Value),
        };
    }

    /// <summary>Value equality, the mean and std compared element by element (a record compares arrays by reference).</summary>
    public bool Equals(ClipImageSettings? other) =>
        other is not null && ShortestEdge == other.ShortestEdge && ResizeHeight == other.ResizeHeight && ResizeWidth == other.ResizeWidth
        && CropHeight == other.CropHeight && CropWidth == other.CropWidth && DoResize == other.DoResize && DoCenterCrop == other.DoCenterCrop
        && DoRescale == other.DoRescale && RescaleFactor.Equals(other.RescaleFactor) && DoNormalize == other.DoNormalize
        && Mean.AsSpan().SequenceEqual(other.Mean) && Std.AsSpan().SequenceEqual(other.Std) && Resample == other.Resample
        && DoConvertRgb == other.DoConvertRgb;

    public override int GetHashCode() => HashCode.Combine(ShortestEdge, ResizeHeight, ResizeWidth, CropHeight, CropWidth, Resample, RescaleFactor, Mean.Length > 0 ? Mean[0] : 0f);

    /// <summary>
    /// Checks values that can come from code rather than JSON (the record's constructor takes anything): the same
    /// ranges <see cref="FromJson(JsonElement)"/> enforces, reported as ArgumentException (a caller's mistake).
    /// </summary>
    internal void Validate()
    {
        string? problem = (ShortestEdge, ResizeHeight, ResizeWidth) switch
        {
            ({ } s, null, null) when s is >= 1 and <= MaxSide => null,
            (null, { } h, { } w) when h is >= 1 and <= MaxSide && w is >= 1 and <= MaxSide => null,
            _ => $"size: exactly one of ShortestEdge or ResizeHeight+ResizeWidth, each 1 to {MaxSide}",
        };
        problem ??= CropHeight is < 1 or > MaxSide || CropWidth is < 1 or > MaxSide ? $"crop size 1 to {MaxSide}" : null;
        problem ??= !double.IsFinite(RescaleFactor) || RescaleFactor <= 0 ? "a positive finite rescale factor" : null;
        problem ??= Mean is not { Length: 3 } || Mean.Any(v => !float.IsFinite(v)) ? "3 finite mean values" : null;
        problem ??= Std is not { Length: 3 } || Std.Any(v => !float.IsFinite(v) || v == 0) ? "3 finite non-zero std values" : null;
        problem ??= !PilFilter.Supported.ContainsKey(Resample) ? $"resample one of {ClipImageSettingsReader.FilterList}" : null;
        if (problem is not null)
        {
            throw new ArgumentException($"The CLIP image settings are invalid: they need {problem}.", nameof(ClipImageSettings));
        }
    }

    internal static string Text(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
