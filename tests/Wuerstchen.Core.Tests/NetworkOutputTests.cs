using Wuerstchen.TestSupport;
using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// A network that returns NaN or infinity (fp16 overflow, broken weights) must be an error naming the network and the
/// step, not an all-black image written without complaint (the VQGAN's 8-bit conversion maps NaN to 0).
/// </summary>
public class NetworkOutputTests
{
    /// <summary>The stand-in folder, copied, with the network in <paramref name="folder"/> replaced by <paramref name="graph"/>.</summary>
    private static string ModelWith(TempFolder temp, string folder, OnnxGraph graph)
    {
        var model = Path.Combine(temp.Path, "model");
        foreach (var file in Directory.EnumerateFiles(TestPaths.StandinModels, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(model, Path.GetRelativePath(TestPaths.StandinModels, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        graph.Save(Path.Combine(model, folder, "model.onnx"));
        return model;
    }

    /// <summary>A VQGAN whose image is <paramref name="value"/> everywhere: sample → 48 channels → DepthToSpace(4) → · 0 + value.</summary>
    private static string ModelWithVqganOf(TempFolder temp, float value)
    {
        var g = new OnnxGraph("vqgan");
        var sample = g.Input("sample", OnnxType.Float, "batch", 4, "height", "width");
        g.Output("image", OnnxType.Float, "batch", 3, "image_height", "image_width");
        var h = g.Node("Tile", new[] { sample, g.Constant("repeats", new long[] { 1, 12, 1, 1 }, 4) });
        h = g.Node("DepthToSpace", new[] { h }, Attr.Of("blocksize", 4L), Attr.Of("mode", "CRD"));
        g.Node("Add", new[] { g.Node("Mul", new[] { h, g.Constant("zero", new[] { 0f }, 1) }), g.Constant("value", new[] { value }, 1) }, "image");
        return ModelWith(temp, "vqgan", g);
    }

    /// <summary>A v2 decoder with the contract's ports whose out_sample is NaN everywhere.</summary>
    private static string ModelWithNaNDecoder(TempFolder temp)
    {
        var g = new OnnxGraph("decoder");
        var sample = g.Input("sample", OnnxType.Float, "batch", 4, "height", "width");
        g.Input("timestep_ratio", OnnxType.Float, "batch");
        g.Input("effnet", OnnxType.Float, "batch", 16, "effnet_height", "effnet_width");
        g.Input("clip_text", OnnxType.Float, "batch", 77, "text_width");
        g.Output("out_sample", OnnxType.Float, "batch", 4, "height", "width");
        g.Node("Mul", new[] { sample, g.Constant("nan", new[] { float.NaN }, 1) }, "out_sample");
        return ModelWith(temp, "decoder", g);
    }

    private static WuerstchenEmbedding Embedding(float value) =>
        new GenerationParameters { Prompt = "p", Seed = 1, Width = 256, Height = 256 }.ToEmbedding(new[] { 16, 6, 6 }, Enumerable.Repeat(value, 16 * 6 * 6).ToArray());

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "∞")]
    public void AVqganReturningANonFiniteImageIsAnErrorNamingIt(float value, string shown)
    {
        using var temp = new TempFolder();
        var pipeline = new WuerstchenPipeline(ModelFolder.Open(ModelWithVqganOf(temp, value)), ExecutionOptions.Cpu, new SessionCache());
        var ex = Assert.Throws<WuerstchenException>(() => pipeline.RunDecoder(new[] { Embedding(0.1f) }, new DecoderSettings { DecoderSteps = 2 }));
        Assert.Equal("NetworkOutputNotFinite", ex.ErrorId);
        Assert.Equal(WuerstchenErrorKind.InvalidData, ex.Kind);
        Assert.Contains("VQGAN", ex.Message);
        Assert.Contains(Path.Combine("vqgan", "model.onnx"), ex.Message);
        Assert.Contains(shown, ex.Message);
    }

    [Fact]
    public void AFiniteVqganStillWritesItsPixels()
    {
        using var temp = new TempFolder();
        var pipeline = new WuerstchenPipeline(ModelFolder.Open(ModelWithVqganOf(temp, 0.5f)), ExecutionOptions.Cpu, new SessionCache());
        using var image = pipeline.RunDecoder(new[] { Embedding(0.1f) }, new DecoderSettings { DecoderSteps = 2 })[0];
        Assert.All(image.Pixels.AsSpan(0, 3 * 256 * 256).ToArray(), b => Assert.Equal(128, b));
    }

    [Fact]
    public void ADecoderReturningNonFiniteValuesIsAnErrorNamingItAndTheStep()
    {
        using var temp = new TempFolder();
        var pipeline = new WuerstchenPipeline(ModelFolder.Open(ModelWithNaNDecoder(temp)), ExecutionOptions.Cpu, new SessionCache());
        var ex = Assert.Throws<WuerstchenException>(() => pipeline.RunDecoder(new[] { Embedding(0.1f) }, new DecoderSettings { DecoderSteps = 3 }));
        Assert.Equal("NetworkOutputNotFinite", ex.ErrorId);
        Assert.Contains("decoder", ex.Message);
        Assert.Contains("step 1 of 3", ex.Message);
    }
}
