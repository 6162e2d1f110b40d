using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>model_index.json is checked against docs/spec/model-contract.json (types, ranges, known keys).</summary>
public class ModelIndexTests
{
    private static WuerstchenException LoadFails(string json)
    {
        using var tmp = new TempFolder();
        File.WriteAllText(tmp["model_index.json"], json);
        return Assert.Throws<WuerstchenException>(() => ModelConfig.Load(tmp.Path));
    }

    [Theory]
    [InlineData("{\"resolution_multiple\": \"abc\"}", "resolution_multiple", "\"abc\"")]
    [InlineData("{\"name\": 5}", "name", "5")]
    [InlineData("{\"max_length\": 2}", "max_length", "2")]
    [InlineData("{\"max_length\": 77.5}", "max_length", "77.5")]
    [InlineData("{\"scheduler_s\": 1}", "scheduler_s", "1")]
    [InlineData("{\"vqgan_scale_factor\": 0}", "vqgan_scale_factor", "0")]
    [InlineData("{\"network_dtypes\": \"fp16\"}", "network_dtypes", "\"fp16\"")]
    public void AWrongTypeOrRangeIsAnErrorNamingTheKeyAndValue(string json, string key, string value)
    {
        var ex = LoadFails(json);
        Assert.Equal("InvalidModelIndex", ex.ErrorId);
        Assert.Equal(WuerstchenErrorKind.InvalidData, ex.Kind);
        Assert.Contains($"'{key}' holds {value};", ex.Message);
        Assert.Equal(value, ex.Target);
    }

    [Fact]
    public void AnUnknownKeyIsAWarningAndTheRestStillApplies()
    {
        using var tmp = new TempFolder();
        File.WriteAllText(tmp["model_index.json"], "{\"resolutoin_multiple\": 40, \"latent_dim_scale\": 9.5}");
        var warnings = new List<string>();
        var c = ModelConfig.Load(tmp.Path, warnings.Add);
        var w = Assert.Single(warnings);
        Assert.Contains("'resolutoin_multiple'", w);
        Assert.Contains("resolution_multiple", w.Substring(w.IndexOf("Known keys", StringComparison.Ordinal)));
        Assert.Equal(42.67, c.ResolutionMultiple);
        Assert.Equal(9.5, c.LatentDimScale);
    }

    [Fact]
    public void AnExporterModelIndexLoadsWithoutWarnings()
    {
        using var tmp = new TempFolder();
        File.WriteAllText(tmp["model_index.json"], """
            {"name": "wuerstchen-v2", "version": "2.0", "format": "wuerstchen-onnx", "exporter_version": "1.0.0",
             "resolution_multiple": 42.67, "latent_dim_scale": 10.67, "latent_mean": 42.0, "latent_std": 1.0,
             "vqgan_scale_factor": 0.3764, "scheduler_s": 0.008, "scheduler_scaler": 1.0, "max_length": 77,
             "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407, "dtype": "fp32",
             "network_dtypes": {"prior": "fp32"}, "source": {}, "opset": 17, "networks": {"prior": {"path": "prior/model.onnx"}}, "tools": {}, "defaults": {}}
            """);
        var warnings = new List<string>();
        var c = ModelConfig.Load(tmp.Path, warnings.Add);
        Assert.Empty(warnings);
        Assert.Equal(ModelConfig.Default with { Name = "wuerstchen-v2", Version = "2.0", GivenKeys = c.GivenKeys }, c);
        Assert.True(c.Gives("pad_token_id"));
        Assert.False(c.Gives("name"));
    }

    [Fact]
    public void AMaxLengthTheTextEncodersCannotReadIsReportedByTheValidator()
    {
        using var copy = new ModelCopy();
        File.WriteAllText(copy.File_("model_index.json"), "{\"max_length\": 1000}");
        var results = ModelValidator.Check(ModelFolder.Open(copy.Path), ExecutionOptions.Cpu, new SessionCache());
        foreach (var stage in new[] { "PriorTextEncoder", "DecoderTextEncoder" })
        {
            var problem = Assert.Single(results.Single(r => r.Stage == stage).Problems);
            Assert.Equal("MaxLengthMismatch", problem.ErrorId);
            Assert.Equal("77", problem.Expected);
            Assert.Equal("1000", problem.Found);
            Assert.Contains("max_length 1000", problem.Message);
        }
    }
}
