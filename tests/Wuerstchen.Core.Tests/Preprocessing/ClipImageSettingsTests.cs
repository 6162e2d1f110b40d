using System.Text.Json;
using Wuerstchen.Core.Preprocessing;
using Xunit;

namespace Wuerstchen.Core.Tests.Preprocessing;

/// <summary>The feature_extractor settings: transformers' preprocessor_config.json keys, defaults, round trip, bad values.</summary>
public class ClipImageSettingsTests
{
    /// <summary>stabilityai/stable-cascade-prior's feature_extractor/preprocessor_config.json as the Hub has it (CLIPImageProcessor()'s defaults).</summary>
    private const string StableCascadeConfig = """
        {
          "crop_size": {
            "height": 224,
            "width": 224
          },
          "do_center_crop": true,
          "do_convert_rgb": true,
          "do_normalize": true,
          "do_rescale": true,
          "do_resize": true,
          "image_mean": [
            0.48145466,
            0.4578275,
            0.40821073
          ],
          "image_processor_type": "CLIPImageProcessor",
          "image_std": [
            0.26862954,
            0.26130258,
            0.27577711
          ],
          "resample": 3,
          "rescale_factor": 0.00392156862745098,
          "size": {
            "shortest_edge": 224
          }
        }
        """;

    [Fact]
    public void Defaults_are_CLIPImageProcessors()
    {
        var d = ClipImageSettings.Default;
        Assert.Equal((224, (int?)null, (int?)null, 224, 224), (d.ShortestEdge!.Value, d.ResizeHeight, d.ResizeWidth, d.CropHeight, d.CropWidth));
        Assert.True(d.DoResize && d.DoCenterCrop && d.DoRescale && d.DoNormalize && d.DoConvertRgb);
        Assert.Equal(1.0 / 255, d.RescaleFactor);
        Assert.Equal(3, d.Resample);
        Assert.Equal(new[] { 0.48145466f, 0.4578275f, 0.40821073f }, d.Mean);
        Assert.Equal(new[] { 0.26862954f, 0.26130258f, 0.27577711f }, d.Std);
    }

    [Fact]
    public void Empty_object_and_nulls_give_the_defaults()
    {
        Assert.Equal(ClipImageSettings.Default, Read("{}"));
        Assert.Equal(ClipImageSettings.Default, Read("""{"size": null, "crop_size": null, "image_mean": null, "resample": null}"""));
    }

    [Fact]
    public void Stable_Cascades_Hub_config_is_the_defaults()
    {
        Assert.Equal(ClipImageSettings.Default, Read(StableCascadeConfig));
        Assert.Equal(0.00392156862745098, Read(StableCascadeConfig).RescaleFactor); // Python's repr of 1/255: the same double
    }

    [Fact]
    public void Older_integer_sizes_and_scalar_mean_are_read_as_transformers_reads_them()
    {
        var s = Read("""{"size": 56, "crop_size": 48, "image_mean": 0.5, "image_std": [1, 2, 3], "resample": 2}""");
        Assert.Equal((56, (int?)null, 48, 48), (s.ShortestEdge!.Value, s.ResizeHeight, s.CropHeight, s.CropWidth));
        Assert.Equal(new[] { 0.5f, 0.5f, 0.5f }, s.Mean);
        Assert.Equal(new[] { 1f, 2f, 3f }, s.Std);
        Assert.Equal(2, s.Resample);
        var fixedSize = Read("""{"size": {"height": 40, "width": 70}}""");
        Assert.Equal(((int?)null, 40, 70), (fixedSize.ShortestEdge, fixedSize.ResizeHeight!.Value, fixedSize.ResizeWidth!.Value));
    }

    [Fact]
    public void The_kits_small_config_is_read()
    {
        var s = Read("""{"size": {"shortest_edge": 56}, "crop_size": {"height": 56, "width": 56}, "image_processor_type": "CLIPImageProcessor"}""");
        Assert.Equal(ClipImageSettings.Default with { ShortestEdge = 56, CropHeight = 56, CropWidth = 56 }, s);
    }

    [Fact]
    public void ToJson_round_trips()
    {
        var odd = new ClipImageSettings(null, 40, 70, 33, 31, true, false, false, 0.5, true, new[] { 0.1f, 0.2f, 0.30000001f }, new[] { 1e-3f, 2f, 3.5f }, PilFilter.Lanczos, false);
        foreach (var s in new[] { ClipImageSettings.Default, odd, ClipImageSettings.Default with { ShortestEdge = 56, CropHeight = 56, CropWidth = 56 } })
        {
            var json = s.ToJson().ToJsonString();
            Assert.Equal(s, Read(json));
        }

        // the mean and std are written as the shortest text of their float32 (0.48145467 for 0.48145466): transformers
        // normalises with them as float32, so the same floats are what must come back, and they do (above)
        var text = ClipImageSettings.Default.ToJson().ToJsonString();
        Assert.Contains("\"image_processor_type\":\"CLIPImageProcessor\"", text, StringComparison.Ordinal);
        Assert.Contains("\"size\":{\"shortest_edge\":224}", text, StringComparison.Ordinal);
        Assert.Contains("\"resample\":3", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"size": 0}""", "size", "0")]
    [InlineData("""{"size": 4097}""", "size", "4097")]
    [InlineData("""{"size": {"shortest_edge": 224, "longest_edge": 448}}""", "size", "longest_edge")]
    [InlineData("""{"size": {"height": 224}}""", "size", "height")]
    [InlineData("""{"size": "224"}""", "size", "\"224\"")]
    [InlineData("""{"size": 22.5}""", "size", "22.5")]
    [InlineData("""{"crop_size": {"shortest_edge": 224}}""", "crop_size", "shortest_edge")]
    [InlineData("""{"crop_size": {"height": -1, "width": 224}}""", "crop_size", "-1")]
    [InlineData("""{"image_std": [0.5, 0, 0.5]}""", "image_std", "[0.5, 0, 0.5]")]
    [InlineData("""{"image_std": 1e300}""", "image_std", "1e300")]
    [InlineData("""{"image_mean": [0.5, 0.5]}""", "image_mean", "[0.5, 0.5]")]
    [InlineData("""{"image_mean": [0.5, "x", 0.5]}""", "image_mean", "\"x\"")]
    [InlineData("""{"resample": 0}""", "resample", "NEAREST")]
    [InlineData("""{"resample": 6}""", "resample", "6")]
    [InlineData("""{"resample": "bicubic"}""", "resample", "\"bicubic\"")]
    [InlineData("""{"rescale_factor": 0}""", "rescale_factor", "0")]
    [InlineData("""{"rescale_factor": -0.5}""", "rescale_factor", "-0.5")]
    [InlineData("""{"do_resize": 1}""", "do_resize", "1")]
    [InlineData("""{"do_normalize": "true"}""", "do_normalize", "\"true\"")]
    public void Bad_values_are_InvalidModelIndex_naming_key_and_value(string json, string key, string shown)
    {
        var ex = Assert.Throws<WuerstchenException>(() => Read(json));
        Assert.Equal("InvalidModelIndex", ex.ErrorId);
        Assert.Equal(WuerstchenErrorKind.InvalidData, ex.Kind);
        Assert.Contains($"'{key}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(shown, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Not_an_object_is_InvalidModelIndex_and_the_source_is_named()
    {
        using var doc = JsonDocument.Parse("[1, 2]");
        var ex = Assert.Throws<WuerstchenException>(() => ClipImageSettings.FromJson(doc.RootElement, "the model index 'x/model_index.json'"));
        Assert.Equal("InvalidModelIndex", ex.ErrorId);
        Assert.Contains("x/model_index.json", ex.Message, StringComparison.Ordinal);
        Assert.Contains("a JSON object", ex.Message, StringComparison.Ordinal);
    }

    private static ClipImageSettings Read(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return ClipImageSettings.FromJson(doc.RootElement);
    }
}
