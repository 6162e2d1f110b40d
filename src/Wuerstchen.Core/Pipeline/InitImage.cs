namespace Wuerstchen.Core;

/// <summary>
/// img2img for the prior (Stability's and ComfyUI's recipe; diffusers has no Würstchen img2img pipeline): the init
/// image is encoded into the prior's space, noised to the timestep the strength selects with the DDPM-Würstchen forward
/// process, and only the prior's remaining steps run. docs/img2img.md states it as formulas:
/// <list type="bullet">
/// <item>steps = the prior's step count (timesteps t_0 = 1 &gt; … &gt; t_steps = 0); k = min(⌊steps · strength⌋, steps)
/// steps run (diffusers' img2img rule, strength read as a double), from t_start = t_(steps − k).</item>
/// <item>x0 = (E + latent_std) / latent_mean, E the EfficientNet embedding of the image at the request's size (v2:
/// (E + 1) / 42; Stable Cascade: E).</item>
/// <item>x_start = √ᾱ(t_start) · x0 + √(1 − ᾱ(t_start)) · ε, in float32 as torch's DDPMWuerstchenScheduler.add_noise,
/// ε the initial noise text-to-image draws (same seed, same stream).</item>
/// <item>strength 1: k = steps and x_start = ε, exactly text-to-image (ᾱ(1) is clamped to 1e-4, so the forward process
/// would still leak 1 % of the image); k = 0 (strength 0, or too small for the step count): the prior runs no step and
/// every embedding is E itself, unchanged.</item>
/// </list>
/// </summary>
internal sealed class InitImage
{
    private InitImage(string path, double strength, float[] timesteps, int steps, float[]? embedding)
    {
        Path = path;
        Strength = strength;
        Timesteps = timesteps;
        Steps = steps;
        Embedding = embedding;
    }

    public string Path { get; }

    public double Strength { get; }

    /// <summary>The timesteps that run: t_start … 0 (one value, 0, when no step runs).</summary>
    public float[] Timesteps { get; }

    /// <summary>k, the prior steps that run.</summary>
    public int Steps { get; }

    /// <summary>E, the image's embedding in the decoder's space [16, h, w]; null at strength 1 (not needed).</summary>
    public float[]? Embedding { get; }

    /// <summary>Whether the image is used at all (strength below 1).</summary>
    public bool Noised => Embedding is not null && Steps > 0;

    /// <summary>The number of steps that run for a timestep list and a strength (diffusers' get_timesteps rule).</summary>
    public static int StepsFor(int steps, double strength) => Math.Min((int)(steps * strength), steps);

    /// <summary>
    /// Plans img2img for a request: which timesteps run, and (below strength 1) the image's embedding, made with
    /// <paramref name="encode"/> (the EfficientNet encoder at the request's size).
    /// </summary>
    public static InitImage Plan(string path, double strength, float[] timesteps, Func<string, float[]> encode)
    {
        int steps = timesteps.Length - 1;
        int k = StepsFor(steps, strength);
        var run = timesteps[(steps - k)..];
        return new InitImage(path, strength, run, k, k == steps ? null : encode(path));
    }

    /// <summary>
    /// x ← √ᾱ · x0 + √(1 − ᾱ) · x for every row of <paramref name="latents"/> (which hold the initial noise ε), with
    /// x0 = (E + latent_std) / latent_mean; float32 operations in torch's order.
    /// </summary>
    public void NoiseInto(Span<float> latents, DdpmWuerstchenScheduler scheduler, ModelConfig config)
    {
        var e = Embedding ?? throw new InvalidOperationException("Strength 1 uses no image.");
        float alphaCumprod = scheduler.AlphaCumprod(Timesteps[0]);
        float a = MathF.Sqrt(alphaCumprod), b = MathF.Sqrt(1f - alphaCumprod);
        float mean = config.LatentMean, std = config.LatentStd;
        for (int i = 0; i < latents.Length; i++)
        {
            float x0 = (e[i % e.Length] + std) / mean;
            latents[i] = a * x0 + b * latents[i];
        }
    }

    /// <summary>No step runs: every row's embedding is E itself (no round trip through the prior's space).</summary>
    public void CopyInto(Span<float> latents)
    {
        var e = Embedding ?? throw new InvalidOperationException("Strength 1 uses no image.");
        for (int offset = 0; offset < latents.Length; offset += e.Length)
        {
            e.CopyTo(latents[offset..]);
        }
    }
}
