using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// Issue 21 after the outside trial: model folders whose files are ambiguous or not files at all are the module's own
/// errors, named by what is wrong, for Test-WuerstchenModel as for a generation.
/// </summary>
public class BoundedModelFolderTests
{
    [Theory]
    [InlineData("{\"family\": \"stable-cascade\", \"family\": \"wuerstchen-v2\"}", "family")]
    [InlineData("{\"latent_mean\": 42, \"name\": \"x\", \"latent_mean\": 40}", "latent_mean")]
    public void ModelConfig_ARepeatedKey_IsInvalidModelIndex(string json, string key)
    {
        // which of the two a reader takes differs (JsonDocument enumerates both, Python keeps the last): ambiguous
        using var tmp = new TempFolder();
        File.WriteAllText(tmp["model_index.json"], json);
        var ex = Assert.Throws<WuerstchenException>(() => ModelConfig.Load(tmp.Path));
        Assert.Equal("InvalidModelIndex", ex.ErrorId);
        Assert.Contains($"'{key}' appears twice", ex.Message);
    }

    [Fact]
    public void Tokenizer_TwoTokensWithOneId_IsInvalidTokenizer_AndTheModelCheckFails()
    {
        using var model = new ModelCopy();
        var vocab = model.File_("prior_tokenizer/vocab.json");
        var text = File.ReadAllText(vocab);
        File.WriteAllText(vocab, text.TrimEnd().TrimEnd('}') + ", \"zzz-extra\": 7}"); // id 7 is already a token's
        var ex = Assert.Throws<WuerstchenException>(() => ModelFolder.Open(model.Path).Tokenizer(NetworkKind.PriorTextEncoder, new TokenizerCache()));
        Assert.Equal("InvalidTokenizer", ex.ErrorId);
        Assert.Contains("zzz-extra", ex.Message);
        Assert.Contains("id 7", ex.Message);

        var results = ModelValidator.Check(ModelFolder.Open(model.Path), ExecutionOptions.Cpu, new SessionCache());
        var tokenizer = Assert.Single(results, r => r.Stage == "PriorTokenizer");
        Assert.Equal(ModelCheckStatus.Invalid, tokenizer.Status);
        Assert.Contains("zzz-extra", Assert.Single(tokenizer.Problems).Message);
    }

    public static TheoryData<string> BadNetworkFiles => new() { "link loop", "folder" };

    /// <summary>Replaces the VQGAN's model.onnx by <paramref name="kind"/>.</summary>
    private static string Break(ModelCopy model, string kind)
    {
        var onnx = model.File_("vqgan/model.onnx");
        File.Delete(onnx);
        if (kind == "folder")
        {
            Directory.CreateDirectory(onnx);
        }
        else
        {
            File.CreateSymbolicLink(onnx, onnx + ".b");
            File.CreateSymbolicLink(onnx + ".b", onnx);
        }

        return onnx;
    }

    [Theory]
    [MemberData(nameof(BadNetworkFiles))]
    public void SessionCache_ANetworkFileThatIsNoFile_IsInvalidModelFileSayingWhat(string kind)
    {
        if (OperatingSystem.IsWindows() && kind == "link loop")
        {
            return;
        }

        using var model = new ModelCopy();
        var onnx = Break(model, kind);
        var ex = Assert.Throws<WuerstchenException>(() => new SessionCache().Acquire(NetworkKind.Vqgan, onnx, ExecutionOptions.Cpu).Dispose());
        Assert.Equal("InvalidModelFile", ex.ErrorId);
        Assert.Contains(onnx, ex.Message);
        Assert.Contains(kind == "folder" ? "is a folder" : "loop of symbolic links", ex.Message);
        Assert.DoesNotContain("system error", ex.Message);
        Assert.DoesNotContain("does not exist", ex.Message);

        var result = Assert.Single(ModelValidator.Check(ModelFolder.Open(model.Path), ExecutionOptions.Cpu, new SessionCache()), r => r.Stage == "Vqgan");
        Assert.Equal(ModelCheckStatus.Invalid, result.Status);
        Assert.Contains(kind == "folder" ? "is a folder" : "loop of symbolic links", Assert.Single(result.Problems).Message);
    }
}
