using System.Numerics.Tensors;

namespace Wuerstchen.Core;

/// <summary>
/// Every network's output is checked for NaN and infinity where it is already read back: a float16 overflow or broken
/// weights otherwise flow on silently (the VQGAN's 8-bit conversion maps NaN to 0, so the result was an all-black image
/// written without an error). One vectorised sum per output; the exact value is looked for only when the sum is not finite.
/// </summary>
internal static class OutputChecks
{
    /// <summary>Throws NetworkOutputNotFinite naming the network, its file and <paramref name="where"/> ("for image 2 of 4").</summary>
    public static void EnsureFinite(ReadOnlySpan<float> values, OnnxSession session, string where)
    {
        int i = FirstNonFinite(values);
        if (i >= 0)
        {
            throw NotFinite(values, i, session, where);
        }
    }

    /// <summary>The sampler's check: allocates nothing unless it fails (the sampling loop allocates nothing per step).</summary>
    public static void EnsureFiniteStep(ReadOnlySpan<float> values, OnnxSession session, int step, int steps, float timestep)
    {
        int i = FirstNonFinite(values);
        if (i >= 0)
        {
            throw NotFinite(values, i, session, $"at step {step} of {steps} (timestep {timestep})");
        }
    }

    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        if (float.IsFinite(TensorPrimitives.Sum(values)))
        {
            return -1;
        }

        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }

        return -1; // a finite output whose sum overflowed: nothing to report
    }

    private static WuerstchenException NotFinite(ReadOnlySpan<float> values, int i, OnnxSession session, string where) =>
        new("NetworkOutputNotFinite", WuerstchenErrorKind.InvalidData,
            $"The {Display(session.Kind)} network '{session.Path}' returned {Show(values[i])} (value {i} of {values.Length}) {where}. "
            + "Its weights are broken or its arithmetic overflowed (float16): re-export it in float32 (models/export without --dtype fp16), "
            + "or try -ExecutionProvider Cpu if it only happens on the GPU. Nothing was written for it.", session.Path);

    internal static string Display(NetworkKind kind) => kind switch
    {
        NetworkKind.Vqgan => "VQGAN",
        NetworkKind.Effnet => "EfficientNet (effnet)",
        NetworkKind.ImageEncoder => "CLIP image encoder",
        NetworkKind.PriorTextEncoder => "prior text encoder",
        NetworkKind.DecoderTextEncoder => "decoder text encoder",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private static string Show(float v) => float.IsNaN(v) ? "NaN" : v > 0 ? "+∞" : "−∞";
}
