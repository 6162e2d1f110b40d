using Microsoft.ML.OnnxRuntime;
using Wuerstchen.TestSupport;
using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// The GPU-sized stand-ins of Benchmark gpu-nets (scripts/gpu-check.sh): their FLOPs are the real v2 networks' at
/// 1024², and small versions of them load and run (fp32 and fp16) with finite outputs of the input's shape.
/// </summary>
public class GpuStandInTests
{
    [Fact]
    public void TheFullSizeStandInsHaveTheRealNetworksFlops()
    {
        using var folder = new TempFolder();
        // the block counts, and so the FLOPs, do not depend on the widths' scale: check them from the formula the
        // benchmark prints, on a small build (a full-size one would write 150+ MB here)
        var prior = GpuStandIns.Prior(folder.Path, 1024, 1024, batch: 2, fp16: false, scale: 1.0 / 8);
        var decoder = GpuStandIns.Decoder(folder.Path, 1024, 1024, batch: 1, fp16: false, scale: 1.0 / 8);
        double priorFull = prior.Flops * 64, decoderFull = decoder.Flops * 64; // FLOPs scale with the square of the widths
        Assert.InRange(priorFull / (2 * GpuStandIns.PriorFlopsPerImage), 0.95, 1.05);
        Assert.InRange(decoderFull / GpuStandIns.DecoderFlopsPerImage, 0.95, 1.05);
        Assert.Equal(53, GpuStandIns.PriorBlocks);
        Assert.Equal(new[] { 9, 9, 32, 9 }, GpuStandIns.DecoderBlockCounts);
    }

    [Theory]
    [InlineData("prior", false)]
    [InlineData("decoder", true)]
    public void SmallStandInsRunWithFiniteOutputs(string network, bool fp16)
    {
        using var folder = new TempFolder();
        var net = network == "prior"
            ? GpuStandIns.Prior(folder.Path, 256, 256, batch: 2, fp16, scale: 1.0 / 16)
            : GpuStandIns.Decoder(folder.Path, 256, 256, batch: 1, fp16, scale: 1.0 / 16);
        Assert.True(net.Float16 == fp16);
        using var session = new InferenceSession(net.Path);
        long count = net.Shape.Aggregate(1L, (a, b) => a * b);
        var data = Enumerable.Range(0, (int)count).Select(i => MathF.Sin(i * 0.37f)).ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(data, net.Shape);
        using var outputs = session.Run(new RunOptions(), new[] { "sample" }, new[] { input }, new[] { "output" });
        Assert.Equal(net.Shape, outputs[0].GetTensorTypeAndShape().Shape);
        var result = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.All(result, v => Assert.True(float.IsFinite(v)));
        Assert.True(result.Any(v => v != 0f), "the stand-in's output is all zeros");
    }
}
