using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Wuerstchen.Core;

/// <summary>A conditioning input of a diffusion network, fixed for the whole loop (one row per image).</summary>
internal sealed record Conditioning(string Name, float[] Conditional, float[]? Unconditional, long[] RowShape);

/// <summary>
/// The one sampling loop that serves both diffusion stages (prior and decoder): DDPMWuerstchen steps over
/// a timestep list, classifier-free guidance only when the scale is > 1 with batch order
/// [conditional ; unconditional] and eps = uncond + g·(cond − uncond) (torch.lerp), one noise draw per
/// step (the last included). Buffers are bound once (an ONNX Runtime I/O binding over pooled, pinned
/// arrays); the loop itself allocates nothing.
/// </summary>
internal static class DiffusionSampler
{
    /// <summary>
    /// From this many values per draw on, a step's noise is drawn on a pool thread while the network runs (the
    /// draw does not depend on the network's output, and the stream is consumed in the same order, so the
    /// numbers are identical): the prior at 1024² draws 9216 values an image, the decoder 262144. Below this
    /// the hand-off (a few microseconds) would cost more than it saves.
    /// </summary>
    internal const int OverlapNoiseFrom = 1 << 12;

    /// <param name="latents">[rows, …rowShape] initial noise; denoised in place.</param>
    /// <param name="onStep">Called after each step with (step done, total steps).</param>
    public static void Run(DiffusionNetwork network, float[] latents, int rows, long[] rowShape, IReadOnlyList<Conditioning> conditioning,
        float[] timesteps, float guidance, DdpmWuerstchenScheduler scheduler, NoiseSource noise,
        Action<int, int>? onStep, CancellationToken cancellationToken)
    {
        // the network's session was checked against its contract when it was leased (NetworkSessions.Lease)
        bool cfg = guidance > 1f;
        using var bound = new SamplerBinding(network, latents.Length, rows, rowShape, conditioning, cfg);
        var draw = bound.Draw;
        var epsilon = bound.GuidedEpsilon ?? bound.Output.Data;
        int size = latents.Length;
        int steps = timesteps.Length - 1;
        using var overlap = size >= OverlapNoiseFrom ? new NoiseDraw(noise, draw) : null;
        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        for (int i = 0; i < steps; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            bound.SetInputs(latents, timesteps[i]);
            overlap?.Start();
            try
            {
                network.Session.Run(bound.Binding, runOptions, cancellationToken);
            }
            finally
            {
                // the generator and the draw buffer are not touched again until the draw is complete
                overlap?.Wait();
            }

            bound.Output.Pull();
            OutputChecks.EnsureFiniteStep(bound.Output.Data.AsSpan(0, cfg ? 2 * size : size), network.Session, i + 1, steps, timesteps[i]);
            if (cfg)
            {
                Guide(bound.Output.Data.AsSpan(0, size), bound.Output.Data.AsSpan(size, size), guidance, bound.Difference!, bound.GuidedEpsilon!);
            }

            if (overlap is null)
            {
                noise.Next(draw);
            }

            var coefficients = scheduler.Coefficients(timesteps[i], timesteps[i + 1]);
            DdpmWuerstchenScheduler.Step(latents, epsilon, draw, coefficients);
            onStep?.Invoke(i + 1, steps);
        }
    }

    /// <summary>torch.lerp(uncond, cond, g): uncond + g·(cond − uncond), in the fused form torch's vector kernel uses.</summary>
    internal static void Guide(ReadOnlySpan<float> cond, ReadOnlySpan<float> uncond, float guidance, Span<float> scratch, Span<float> destination)
    {
        System.Numerics.Tensors.TensorPrimitives.Subtract(cond, uncond, scratch);
        if (MathF.Abs(guidance) < 0.5f)
        {
            System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(scratch, guidance, uncond, destination);
        }
        else
        {
            System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(scratch, guidance - 1f, cond, destination);
        }
    }
}
