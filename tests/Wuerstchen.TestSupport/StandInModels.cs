using System.Text.Json;

namespace Wuerstchen.TestSupport;

/// <summary>Sizes of the heavy stand-in networks.</summary>
public sealed record StandInSpec
{
    /// <summary>Hidden channels of the prior (3×3 convolutions at h×w).</summary>
    public int PriorChannels { get; init; } = 256;

    public int PriorLayers { get; init; } = 2;

    /// <summary>Hidden channels of the decoder (convolutions at H4×W4).</summary>
    public int DecoderChannels { get; init; } = 32;

    public int DecoderLayers { get; init; } = 3;

    /// <summary>Kernel of the decoder's hidden layers (1 or 3).</summary>
    public int DecoderKernel { get; init; } = 1;

    public int VqganChannels { get; init; } = 32;

    /// <summary>Text widths of the real model (clip_text D of prior and decoder).</summary>
    public int PriorTextWidth { get; init; } = 1280;

    public int DecoderTextWidth { get; init; } = 1024;

    public override string ToString() =>
        $"prior {PriorLayers}×conv3x3 {PriorChannels}ch; decoder {DecoderLayers}×conv{DecoderKernel}x{DecoderKernel} {DecoderChannels}ch; vqgan {VqganChannels}ch";
}

/// <summary>
/// Writes a model folder of heavy stand-in networks that honour docs/spec/model-contract.md exactly (input
/// and output names, ranks, element types, dynamic batch and spatial axes; clip_text widths 1280/1024 as in
/// the real model). They are untrained convolution stacks with bounded (tanh) outputs, deterministic for a
/// given spec: they cost real compute per call but draw nothing meaningful.
/// </summary>
public static class StandInModels
{
    private const int MaxLength = 77;
    private const int HashedVocabulary = 4096; // the text encoders hash ids into a small table: 49408×1280 floats would be 250 MB
    private const int TokenWidth = 64;

    public static void Write(string folder, string tokenizerSource, StandInSpec spec)
    {
        Directory.CreateDirectory(folder);
        var rng = new WeightRandom(20240611);
        Save(folder, "prior_text_encoder", TextEncoder(spec.PriorTextWidth, rng));
        Save(folder, "decoder_text_encoder", TextEncoder(spec.DecoderTextWidth, rng));
        Save(folder, "prior", Prior(spec, rng));
        Save(folder, "decoder", Decoder(spec, rng));
        Save(folder, "vqgan", Vqgan(spec, rng));
        Save(folder, "effnet", Effnet(rng));
        foreach (var tok in new[] { "prior_tokenizer", "decoder_tokenizer" })
        {
            var target = Path.Combine(folder, tok);
            Directory.CreateDirectory(target);
            foreach (var file in Directory.GetFiles(Path.Combine(tokenizerSource, tok)))
            {
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
            }
        }

        File.WriteAllText(Path.Combine(folder, "model_index.json"),
            JsonSerializer.Serialize(new { name = "bench-standin", version = spec.ToString() }));
    }

    private static void Save(string folder, string stage, OnnxGraph graph)
    {
        var dir = Path.Combine(folder, stage);
        Directory.CreateDirectory(dir);
        graph.Save(Path.Combine(dir, "model.onnx"));
    }

    /// <summary>input_ids, attention_mask [B,77] int64 → last_hidden_state [B,77,D]: hashed embedding + positions → MatMul → tanh, masked.</summary>
    private static OnnxGraph TextEncoder(int width, WeightRandom rng)
    {
        var g = new OnnxGraph("text_encoder");
        var ids = g.Input("input_ids", OnnxType.Int64, "batch", MaxLength);
        var mask = g.Input("attention_mask", OnnxType.Int64, "batch", MaxLength);
        g.Output("last_hidden_state", OnnxType.Float, "batch", MaxLength, width);

        var hashed = g.Node("Mod", new[] { ids, g.Constant("vocab", new long[] { HashedVocabulary }) }, Attr.Of("fmod", 0L));
        var table = g.Constant("token_embedding", rng.Uniform(HashedVocabulary * TokenWidth, 1f), HashedVocabulary, TokenWidth);
        var emb = g.Node("Gather", new[] { table, hashed }, Attr.Of("axis", 0L));
        emb = g.Node("Add", new[] { emb, g.Constant("position_embedding", rng.Uniform(MaxLength * TokenWidth, 0.5f), MaxLength, TokenWidth) });
        var h = g.Node("MatMul", new[] { emb, g.Constant("projection", rng.Weights(TokenWidth * width, TokenWidth), TokenWidth, width) });
        h = g.Node("Tanh", new[] { h });
        var m = g.Node("Cast", new[] { mask }, Attr.Of("to", (long)OnnxType.Float));
        m = g.Node("Unsqueeze", new[] { m, g.Constant("axis2", new long[] { 2 }, 1) });
        g.Node("Mul", new[] { h, m }, "last_hidden_state");
        return g;
    }

    /// <summary>sample [B,16,h,w], timestep_ratio [B], clip_text [B,77,Dp] → out_sample [B,16,h,w].</summary>
    private static OnnxGraph Prior(StandInSpec spec, WeightRandom rng)
    {
        int c = spec.PriorChannels;
        var g = new OnnxGraph("prior");
        var sample = g.Input("sample", OnnxType.Float, "batch", 16, "height", "width");
        var ratio = g.Input("timestep_ratio", OnnxType.Float, "batch");
        var text = g.Input("clip_text", OnnxType.Float, "batch", MaxLength, spec.PriorTextWidth);
        g.Output("out_sample", OnnxType.Float, "batch", 16, "height", "width");

        var x = Conv(g, rng, "in", sample, 16, c, 3);
        x = g.Node("Add", new[] { x, Conditioning(g, rng, ratio, text, spec.PriorTextWidth, c) });
        var h = g.Node("Tanh", new[] { x });
        for (int l = 0; l < spec.PriorLayers; l++)
        {
            h = g.Node("Tanh", new[] { Conv(g, rng, $"block{l}", h, c, c, 3) });
        }

        g.Node("Tanh", new[] { Conv(g, rng, "out", h, c, 16, 1) }, "out_sample");
        return g;
    }

    /// <summary>sample [B,4,H4,W4], timestep_ratio [B], effnet [B,16,h,w], clip_text [B,77,Dd] → out_sample [B,4,H4,W4].</summary>
    private static OnnxGraph Decoder(StandInSpec spec, WeightRandom rng)
    {
        int c = spec.DecoderChannels;
        var g = new OnnxGraph("decoder");
        var sample = g.Input("sample", OnnxType.Float, "batch", 4, "height", "width");
        var ratio = g.Input("timestep_ratio", OnnxType.Float, "batch");
        var effnet = g.Input("effnet", OnnxType.Float, "batch", 16, "effnet_height", "effnet_width");
        var text = g.Input("clip_text", OnnxType.Float, "batch", MaxLength, spec.DecoderTextWidth);
        g.Output("out_sample", OnnxType.Float, "batch", 4, "height", "width");

        var x = Conv(g, rng, "in", sample, 4, c, 3);
        // effnet: 1×1 conv at h×w (embedding values are in the tens to thousands), bounded, then nearest up-sampling to H4×W4
        var e = g.Node("Tanh", new[] { Conv(g, rng, "effnet", effnet, 16, c, 1, gain: 1f / 42f) });
        var sizes = g.Node("Concat", new[]
        {
            g.Node("Shape", new[] { e }, Attr.Of("end", 2L)),
            g.Node("Shape", new[] { sample }, Attr.Of("start", 2L)),
        }, Attr.Of("axis", 0L));
        e = g.Node("Resize", new[] { e, "", "", sizes }, Attr.Of("mode", "nearest"));
        x = g.Node("Add", new[] { x, e });
        x = g.Node("Add", new[] { x, Conditioning(g, rng, ratio, text, spec.DecoderTextWidth, c) });
        var h = g.Node("Tanh", new[] { x });
        for (int l = 0; l < spec.DecoderLayers; l++)
        {
            h = g.Node("Tanh", new[] { Conv(g, rng, $"block{l}", h, c, c, spec.DecoderKernel) });
        }

        g.Node("Tanh", new[] { Conv(g, rng, "out", h, c, 4, 3) }, "out_sample");
        return g;
    }

    /// <summary>sample [B,4,H4,W4] → image [B,3,4·H4,4·W4]: conv3x3 → tanh → conv1x1 to 48 → DepthToSpace(4) → sigmoid.</summary>
    private static OnnxGraph Vqgan(StandInSpec spec, WeightRandom rng)
    {
        var g = new OnnxGraph("vqgan");
        var sample = g.Input("sample", OnnxType.Float, "batch", 4, "height", "width");
        g.Output("image", OnnxType.Float, "batch", 3, "image_height", "image_width");
        var h = g.Node("Tanh", new[] { Conv(g, rng, "in", sample, 4, spec.VqganChannels, 3) });
        h = Conv(g, rng, "out", h, spec.VqganChannels, 48, 1);
        h = g.Node("DepthToSpace", new[] { h }, Attr.Of("blocksize", 4L), Attr.Of("mode", "CRD"));
        g.Node("Sigmoid", new[] { h }, "image");
        return g;
    }

    /// <summary>image [B,3,32h,32w] → image_embeddings [B,16,h,w] (not used by Generate; keeps the folder complete).</summary>
    private static OnnxGraph Effnet(WeightRandom rng)
    {
        var g = new OnnxGraph("effnet");
        var image = g.Input("image", OnnxType.Float, "batch", 3, "height", "width");
        g.Output("image_embeddings", OnnxType.Float, "batch", 16, "embedding_height", "embedding_width");
        var s = g.Node("SpaceToDepth", new[] { image }, Attr.Of("blocksize", 32L));
        g.Node("Tanh", new[] { Conv(g, rng, "proj", s, 3 * 32 * 32, 16, 1) }, "image_embeddings");
        return g;
    }

    /// <summary>timestep_ratio [B] and clip_text [B,77,D] → [B,C,1,1]: t·w_t + MatMul(mean over tokens, W).</summary>
    private static string Conditioning(OnnxGraph g, WeightRandom rng, string ratio, string text, int width, int channels)
    {
        var t = g.Node("Unsqueeze", new[] { ratio, g.Constant("axes123", new long[] { 1, 2, 3 }, 3) });
        t = g.Node("Mul", new[] { t, g.Constant("time_weight", rng.Uniform(channels, 1f), 1, channels, 1, 1) });
        var c = g.Node("ReduceMean", new[] { text }, Attr.Of("axes", new long[] { 1 }), Attr.Of("keepdims", 0L));
        c = g.Node("MatMul", new[] { c, g.Constant("text_projection", rng.Weights(width * channels, width, gain: 4f), width, channels) });
        c = g.Node("Unsqueeze", new[] { c, g.Constant("axes23", new long[] { 2, 3 }, 2) });
        return g.Node("Add", new[] { t, c });
    }

    private static string Conv(OnnxGraph g, WeightRandom rng, string name, string x, int inChannels, int outChannels, int kernel, float gain = 1f)
    {
        int fanIn = inChannels * kernel * kernel;
        var w = g.Constant($"{name}_weight", rng.Weights(outChannels * fanIn, fanIn, gain), outChannels, inChannels, kernel, kernel);
        var b = g.Constant($"{name}_bias", rng.Uniform(outChannels, 0.1f), outChannels);
        long pad = kernel / 2;
        return g.Node("Conv", new[] { x, w, b }, Attr.Of("kernel_shape", kernel, kernel), Attr.Of("pads", pad, pad, pad, pad));
    }

    /// <summary>Deterministic weights (xorshift64*), uniform with variance gain²/fanIn.</summary>
    private sealed class WeightRandom
    {
        private ulong _state;

        public WeightRandom(ulong seed) => _state = seed | 1;

        public float[] Weights(int count, int fanIn, float gain = 1f) => Uniform(count, gain * MathF.Sqrt(3f / fanIn));

        public float[] Uniform(int count, float limit)
        {
            var result = new float[count];
            for (int i = 0; i < count; i++)
            {
                _state ^= _state >> 12;
                _state ^= _state << 25;
                _state ^= _state >> 27;
                ulong r = _state * 0x2545F4914F6CDD1DUL;
                result[i] = ((r >> 40) * (1f / (1 << 24)) * 2f - 1f) * limit;
            }

            return result;
        }
    }
}
