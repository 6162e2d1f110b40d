using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Wuerstchen.TestSupport;
using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>Networks whose inputs and outputs are float16: converted at the boundary, arithmetic stays float32.</summary>
public class Float16Tests
{
    [Fact]
    public void BoundTensorConvertsBothWays()
    {
        using var t = new BoundTensor(new BufferPool(), TensorElementType.Float16, new long[] { 2, 3 });
        float[] values = { 0f, 1f, -2.5f, 65504f, 1e-3f, 0.1f };
        values.CopyTo(t.Data, 0);
        t.Push();
        var half = t.Value.GetTensorDataAsSpan<Float16>();
        Assert.Equal(6, half.Length);
        Assert.Equal(-2.5f, (float)half[2]);
        Assert.Equal(65504f, (float)half[3]);
        Assert.Equal(0.1f, (float)half[5], 3);
        Array.Clear(t.Data);
        t.Pull();
        Assert.Equal(-2.5f, t.Data[2]);
        Assert.Equal(0.0999755859375f, t.Data[5]); // the float16 nearest to 0.1
    }

    /// <summary>A prior that computes out = 0.5·sample + r (clip_text unused), with float or float16 I/O.</summary>
    private static void WritePrior(string path, OnnxType io)
    {
        var g = new OnnxGraph("prior");
        var sample = g.Input("sample", io, "B", 16, "h", "w");
        var ratio = g.Input("timestep_ratio", io, "B");
        g.Input("clip_text", io, "B", 77, 8);
        if (io == OnnxType.Float16)
        {
            sample = g.Node("Cast", new[] { sample }, Attr.Of("to", 1L));
            ratio = g.Node("Cast", new[] { ratio }, Attr.Of("to", 1L));
        }

        var shape = g.Constant("shape", new long[] { -1, 1, 1, 1 }, 4);
        var r = g.Node("Reshape", new[] { ratio, shape });
        var half = g.Node("Mul", new[] { sample, g.Constant("half", new[] { 0.5f }, 1) });
        var sum = g.Node("Add", new[] { half, r }, io == OnnxType.Float16 ? null : "out_sample");
        if (io == OnnxType.Float16)
        {
            g.Node("Cast", new[] { sum }, "out_sample", Attr.Of("to", 10L));
        }

        g.Output("out_sample", io, "B", 16, "h", "w");
        g.Save(path);
    }

    [Fact]
    public void APriorWithFloat16InputsAndOutputsMatchesItsFloat32Twin()
    {
        using var fp32 = new ModelCopy();
        using var fp16 = new ModelCopy();
        WritePrior(fp32.File_("prior/model.onnx"), OnnxType.Float);
        WritePrior(fp16.File_("prior/model.onnx"), OnnxType.Float16);
        var settings = new PriorSettings { Prompts = new[] { "half" }, Width = 256, Height = 256, Seed = 5, PriorSteps = 6 };
        var a = new WuerstchenPipeline(ModelFolder.Open(fp32.Path), ExecutionOptions.Cpu, new SessionCache()).RunPrior(settings)[0].Data;
        var b = new WuerstchenPipeline(ModelFolder.Open(fp16.Path), ExecutionOptions.Cpu, new SessionCache()).RunPrior(settings)[0].Data;
        double maxRef = a.Max(v => Math.Abs(v)), maxDiff = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
        Assert.True(maxRef > 1, "the prior must produce a non-trivial embedding");
        Assert.All(b, v => Assert.True(float.IsFinite(v)));
        // float16 has an 11-bit significand: the boundary rounding stays at the 1e-3 level, not more
        Assert.True(maxDiff / maxRef < 5e-3, $"relative difference {maxDiff / maxRef}");
        Assert.True(maxDiff > 0, "the float16 path must really have rounded something");
    }
}
