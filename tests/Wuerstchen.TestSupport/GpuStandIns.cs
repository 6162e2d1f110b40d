namespace Wuerstchen.TestSupport;

/// <summary>One GPU-sized stand-in network as written: its file, the shape of its one input and output, and its FLOPs per call.</summary>
public sealed record GpuNet(string Name, string Path, long[] Shape, double Flops, long Parameters, bool Float16, string Structure);

/// <summary>
/// Stand-ins for timing the real Würstchen v2 prior and decoder on a GPU: dense networks whose FLOPs per call are the
/// real networks' (docs/spec/wuerstchen-reference.md: prior ≈ 1.15 TFLOP per image per call at 24×24 latents, decoder
/// ≈ 2.9 TFLOP per call at 256×256), at the real widths and token counts, so the GPU runs GEMMs of the real shapes:
/// <list type="bullet">
/// <item>prior: tokens of the 16×(H/42.67)×(W/42.67) latent, width 1536, residual MLP blocks 1536→6144→1536 with
///   LayerNorm (the real prior's ResBlock MLP; its attention, projections and the score products at ≈ 6 % of its
///   FLOPs, is folded into more blocks: 53 instead of 32);</item>
/// <item>decoder: the 4×(H/4)×(W/4) latent patchified by 2, four levels of widths 320, 640, 1280, 1280 at 1/8, 1/16, 1/32,
///   1/64 of the image side (the real decoder's), residual MLP blocks (4× width), 2×2 patch merging down and splitting
///   up with skips; the real block counts [4, 4, 14, 4] each way, scaled so the FLOPs reach the real decoder's.</item>
/// </list>
/// Only GEMMs are counted (2·M·K·N); LayerNorm, ReLU, adds and transposes are memory-bound extras. Weights are shared
/// by the blocks of a level (two sets cycled), so the files stay far under ONNX's 2 GB and the weight memory is small:
/// the peak memory measured is activations and workspace, not the real networks' 4 GB of weights each.
/// Fixed shapes throughout, so CUDA graphs can capture them.
/// </summary>
public static class GpuStandIns
{
    public const double PriorFlopsPerImage = 1.15e12;
    public const double DecoderFlopsPerImage = 2.9e12;
    private const int WeightSets = 2;
    private static readonly int[] DecoderWidths = { 320, 640, 1280, 1280 };
    private static readonly int[] DecoderBlocks = { 4, 4, 14, 4 }; // the real decoder's, down (and again up) per level

    /// <summary>Prior blocks that give the real prior's FLOPs at 1024² (kept at every size and scale, so FLOPs scale as the real ones do).</summary>
    public static int PriorBlocks => (int)Math.Round(PriorFlopsPerImage / (16.0 * 24 * 24 * 1536 * 1536));

    /// <summary>Decoder block multiplier that gives the real decoder's FLOPs at 1024².</summary>
    public static int[] DecoderBlockCounts
    {
        get
        {
            var unit = DecoderFlops(DecoderBlocks, 1024, 1024, 1, 1.0);
            var transitions = DecoderFlops(new int[4], 1024, 1024, 1, 1.0);
            double k = (DecoderFlopsPerImage - transitions) / (unit - transitions);
            return DecoderBlocks.Select(b => Math.Max(1, (int)Math.Round(b * k))).ToArray();
        }
    }

    public static GpuNet Prior(string folder, int width, int height, int batch, bool fp16, double scale = 1.0)
    {
        int h = (int)Math.Ceiling(height / 42.67), w = (int)Math.Ceiling(width / 42.67), t = h * w, c = Scaled(1536, scale);
        var g = new Builder("gpu_prior", fp16);
        var x = g.In(batch, 16, h, w);
        x = g.Reshape(x, batch, 16, t);
        x = g.Node("Transpose", x, Attr.Of("perm", 0, 2, 1));
        x = g.MatMul(x, 16, c, "in");
        for (int i = 0; i < PriorBlocks; i++)
        {
            x = g.Block(x, c, $"b{i % WeightSets}");
        }

        x = g.MatMul(x, c, 16, "out");
        x = g.Node("Transpose", x, Attr.Of("perm", 0, 2, 1));
        g.Out(g.Reshape(x, batch, 16, h, w), batch, 16, h, w);
        double flops = batch * (2.0 * t * 16 * c * 2 + PriorBlocks * 16.0 * t * c * c);
        return g.Save(folder, new long[] { batch, 16, h, w }, flops, $"{PriorBlocks} blocks {c}→{4 * c}→{c} on {h}×{w} tokens");
    }

    public static GpuNet Decoder(string folder, int width, int height, int batch, bool fp16, double scale = 1.0)
    {
        int lh = height / 4, lw = width / 4, h0 = lh / 2, w0 = lw / 2;
        var widths = DecoderWidths.Select(c => Scaled(c, scale)).ToArray();
        var blocks = DecoderBlockCounts;
        var g = new Builder("gpu_decoder", fp16);
        var x = g.In(batch, 4, lh, lw);
        x = g.Reshape(x, batch, 4, h0, 2, w0, 2);
        x = g.Node("Transpose", x, Attr.Of("perm", 0, 2, 4, 3, 5, 1));
        x = g.MatMul(g.Reshape(x, batch, h0 * w0, 16), 16, widths[0], "in");
        var skips = new string[4];
        for (int l = 0; l < 4; l++)
        {
            for (int i = 0; i < blocks[l]; i++)
            {
                x = g.Block(x, widths[l], $"l{l}d{i % WeightSets}");
            }

            skips[l] = x;
            if (l < 3)
            {
                int h = h0 >> l, w = w0 >> l;
                x = g.Node("Transpose", g.Reshape(x, batch, h / 2, 2, w / 2, 2, widths[l]), Attr.Of("perm", 0, 1, 3, 2, 4, 5));
                x = g.MatMul(g.Reshape(x, batch, h * w / 4, 4 * widths[l]), 4 * widths[l], widths[l + 1], $"down{l}");
            }
        }

        for (int l = 3; l >= 0; l--)
        {
            if (l < 3)
            {
                int h = h0 >> l, w = w0 >> l;
                x = g.Reshape(g.MatMul(x, widths[l + 1], 4 * widths[l], $"up{l}"), batch, h / 2, w / 2, 2, 2, widths[l]);
                x = g.Reshape(g.Node("Transpose", x, Attr.Of("perm", 0, 1, 3, 2, 4, 5)), batch, h * w, widths[l]);
                x = g.Node("Add", x, skips[l]);
            }

            for (int i = 0; i < blocks[l]; i++)
            {
                x = g.Block(x, widths[l], $"l{l}u{i % WeightSets}");
            }
        }

        x = g.Reshape(g.MatMul(x, widths[0], 16, "out"), batch, h0, w0, 2, 2, 4);
        x = g.Reshape(g.Node("Transpose", x, Attr.Of("perm", 0, 5, 1, 3, 2, 4)), batch, 4, lh, lw);
        g.Out(x, batch, 4, lh, lw);
        double flops = DecoderFlops(blocks, width, height, batch, scale);
        return g.Save(folder, new long[] { batch, 4, lh, lw }, flops,
            $"levels {string.Join("/", widths)} at {h0}²…{h0 >> 3}² tokens, {string.Join("/", blocks)} blocks down and up");
    }

    /// <summary>GEMM FLOPs of the decoder stand-in: blocks (16·T·c² each, down and up), patchify, merges and splits.</summary>
    private static double DecoderFlops(int[] blocks, int width, int height, int batch, double scale)
    {
        var widths = DecoderWidths.Select(c => (double)Scaled(c, scale)).ToArray();
        double t0 = (height / 8.0) * (width / 8.0), flops = 2 * (2.0 * t0 * 16 * widths[0]);
        for (int l = 0; l < 4; l++)
        {
            double t = t0 / (1 << (2 * l));
            flops += 2 * blocks[l] * 16.0 * t * widths[l] * widths[l];
            if (l < 3)
            {
                flops += 2 * (2.0 * (t / 4) * 4 * widths[l] * widths[l + 1]); // merge down, split up
            }
        }

        return batch * flops;
    }

    private static int Scaled(int channels, double scale) => Math.Max(8, (int)Math.Round(channels * scale / 8) * 8);

    /// <summary>The graph under construction: float32 I/O, float16 inside when asked (as an fp16 export keeps its I/O).</summary>
    private sealed class Builder
    {
        private readonly OnnxGraph _g;
        private readonly string _name;
        private readonly bool _fp16;
        private readonly HashSet<string> _weights = new();
        private readonly Random _random = new(1234);
        private int _shapes;

        public Builder(string name, bool fp16)
        {
            _name = name + (fp16 ? "_fp16" : "_fp32");
            _g = new OnnxGraph(_name);
            _fp16 = fp16;
        }

        public string In(params long[] dims)
        {
            var x = _g.Input("sample", OnnxType.Float, dims.Cast<object>().ToArray());
            return _fp16 ? _g.Node("Cast", new[] { x }, Attr.Of("to", (long)OnnxType.Float16)) : x;
        }

        public void Out(string x, params long[] dims)
        {
            _g.Node(_fp16 ? "Cast" : "Identity", new[] { x }, "output", _fp16 ? new[] { Attr.Of("to", (long)OnnxType.Float) } : Array.Empty<Attr>());
            _g.Output("output", OnnxType.Float, dims.Cast<object>().ToArray());
        }

        public string Node(string op, string x, params Attr[] attributes) => _g.Node(op, new[] { x }, attributes);

        public string Node(string op, string a, string b) => _g.Node(op, new[] { a, b });

        public string Reshape(string x, params long[] dims) => _g.Node("Reshape", new[] { x, _g.Constant($"shape{_shapes++}", dims, dims.Length) });

        public string MatMul(string x, int k, int n, string name) => _g.Node("MatMul", new[] { x, Weight(name, k, n) });

        /// <summary>x + MLP(x), then LayerNorm: the MLP of the real ResBlocks; the norm keeps a deep random stack finite in fp16.</summary>
        public string Block(string x, int c, string name)
        {
            var y = _g.Node("Relu", new[] { MatMul(x, c, 4 * c, name + "_up") });
            y = _g.Node("Add", new[] { x, MatMul(y, 4 * c, c, name + "_down") });
            return _g.Node("LayerNormalization", new[] { y, Vector(name + "_gamma", c, 1f), Vector(name + "_beta", c, 0f) }, Attr.Of("axis", -1L), Attr.Of("epsilon", 1e-5f));
        }

        public GpuNet Save(string folder, long[] shape, double flops, string structure)
        {
            Directory.CreateDirectory(folder);
            var path = System.IO.Path.Combine(folder, _name + ".onnx");
            _g.Save(path, "Wuerstchen.Benchmark gpu-nets");
            return new GpuNet(_name, path, shape, flops, _g.ParameterCount, _fp16, structure);
        }

        private string Weight(string name, int k, int n)
        {
            if (_weights.Add(name))
            {
                // uniform with variance 1/fanIn: activations keep their scale through each GEMM
                float limit = MathF.Sqrt(3f / k);
                var data = new float[(long)k * n];
                for (long i = 0; i < data.LongLength; i++)
                {
                    data[i] = (float)(_random.NextDouble() * 2 - 1) * limit;
                }

                Add(name, data, k, n);
            }

            return name;
        }

        private string Vector(string name, int c, float value)
        {
            if (_weights.Add(name))
            {
                Add(name, Enumerable.Repeat(value, c).ToArray(), c);
            }

            return name;
        }

        private void Add(string name, float[] data, params long[] dims)
        {
            if (_fp16)
            {
                _g.Constant(name, data.Select(v => (Half)v).ToArray(), dims);
            }
            else
            {
                _g.Constant(name, data, dims);
            }
        }
    }
}
