// TEMPORARY: replaced by the clip-preprocess branch (same API). Delete at merge.
using System.Text.Json;
namespace Wuerstchen.Core.Preprocessing;
public sealed record ClipImageSettings(int? ShortestEdge, int? ResizeHeight, int? ResizeWidth, int CropHeight, int CropWidth, bool DoResize,
    bool DoCenterCrop, bool DoRescale, double RescaleFactor, bool DoNormalize, float[] Mean, float[] Std, int Resample, bool DoConvertRgb)
{
    public static ClipImageSettings Default { get; } = new(224, null, null, 224, 224, true, true, true, 1 / 255.0, true,
        new[] { 0.48145466f, 0.4578275f, 0.40821073f }, new[] { 0.26862954f, 0.26130258f, 0.27577711f }, 3, true);
    public static ClipImageSettings FromJson(JsonElement e) =>
        Default with { ShortestEdge = e.GetProperty("size").GetProperty("shortest_edge").GetInt32(), CropHeight = e.GetProperty("crop_size").GetProperty("height").GetInt32(), CropWidth = e.GetProperty("crop_size").GetProperty("width").GetInt32() };
}
public static class ClipImagePreprocessor
{
    public static float[] Load(string path, ClipImageSettings settings) => throw new NotImplementedException();
    public static float[] Process(ReadOnlySpan<byte> rgb, int width, int height, ClipImageSettings settings) => throw new NotImplementedException();
}
