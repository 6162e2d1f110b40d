using System.Numerics;

namespace Wuerstchen.Core;

/// <summary>
/// diffusers' DDPMWuerstchenScheduler (reference §5): a continuous-time cosine schedule with
/// ᾱ(t) = clamp(cos²((t+s)/(1+s)·π/2) / cos²(s/(1+s)·π/2), 1e-4, 0.9999). Arithmetic follows the
/// float32 torch operations of the reference so results agree to the last bits where possible.
/// </summary>
public sealed class DdpmWuerstchenScheduler
{
    private readonly float _s;
    private readonly double _scaler;
    private readonly float _initAlphaCumprod;

    public DdpmWuerstchenScheduler(double s = 0.008, double scaler = 1.0)
    {
        _s = (float)s;
        _scaler = scaler;
        // torch: cos(s / (1 + s) * pi * 0.5) ** 2 on a Python float, kept as a float32 tensor
        double init = Math.Cos(s / (1 + s) * Math.PI * 0.5);
        _initAlphaCumprod = (float)(init * init);
    }

    public static DdpmWuerstchenScheduler For(ModelConfig config) => new(config.SchedulerS, config.SchedulerScaler);

    /// <summary>torch.linspace(1, 0, steps + 1, dtype=float32): the default timestep list.</summary>
    public static float[] DefaultTimesteps(int steps)
    {
        if (steps <= 0)
        {
            throw new WuerstchenException("InvalidStepCount", WuerstchenErrorKind.InvalidArgument,
                $"The number of steps must be at least 1; got {steps}.", steps);
        }

        return Linspace(1.0f, 0.0f, steps + 1);
    }

    /// <summary>Float32 linspace exactly as torch's CPU kernel computes it (two halves, from each end).</summary>
    public static float[] Linspace(float start, float end, int count)
    {
        var result = new float[count];
        if (count == 1)
        {
            result[0] = start;
            return result;
        }

        float step = (end - start) / (count - 1);
        int halfway = count / 2;
        for (int i = 0; i < count; i++)
        {
            result[i] = i < halfway ? start + step * i : end - step * (count - i - 1);
        }

        return result;
    }

    /// <summary>The most values a timestep list may have: one more than the most steps.</summary>
    public const int MaxTimesteps = SamplingChecks.MaxSteps + 1;

    /// <summary>
    /// The same cap as a step count, whichever door the list comes through (an array, a CSV cell's text, a sidecar, an
    /// image's metadata): each door counts the values before it parses or walks them and calls this.
    /// </summary>
    public static void CheckCount(long count, string parameterName)
    {
        if (count > MaxTimesteps)
        {
            throw new WuerstchenException("InvalidTimesteps", WuerstchenErrorKind.InvalidArgument,
                $"{parameterName} has {count} values ({count - 1} steps); at most {MaxTimesteps} values ({SamplingChecks.MaxSteps} steps) are taken. Give fewer timesteps, or a step count.", count);
        }
    }

    /// <summary>
    /// Checks a user-supplied timestep list: finite, strictly descending, from 1 down to 0 (the model
    /// is called for every value but the last).
    /// </summary>
    public static float[] ValidateTimesteps(IReadOnlyList<float>? timesteps, string parameterName)
    {
        if (timesteps is null || timesteps.Count < 2)
        {
            throw new WuerstchenException("InvalidTimesteps", WuerstchenErrorKind.InvalidArgument,
                $"{parameterName} needs at least two values, descending from 1 to 0 (e.g. 1, 0.5, 0); got {Describe(timesteps)}.", timesteps);
        }

        CheckCount(timesteps.Count, parameterName);

        for (int i = 0; i < timesteps.Count; i++)
        {
            float t = timesteps[i];
            if (!float.IsFinite(t) || t < 0f || t > 1f)
            {
                throw new WuerstchenException("InvalidTimesteps", WuerstchenErrorKind.InvalidArgument,
                    $"{parameterName} value {t.ToString("R", System.Globalization.CultureInfo.InvariantCulture)} at position {i} is outside [0, 1]; the list must descend from 1 to 0.", timesteps);
            }

            if (i > 0 && !(t < timesteps[i - 1]))
            {
                throw new WuerstchenException("InvalidTimesteps", WuerstchenErrorKind.InvalidArgument,
                    $"{parameterName} is not strictly descending at position {i} ({Describe(timesteps)}); the list must descend from 1 to 0.", timesteps);
            }
        }

        if (timesteps[0] != 1f || timesteps[^1] != 0f)
        {
            throw new WuerstchenException("InvalidTimesteps", WuerstchenErrorKind.InvalidArgument,
                $"{parameterName} must start at 1 and end at 0; got {Describe(timesteps)}.", timesteps);
        }

        return timesteps.ToArray();
    }

    private static string Describe(IReadOnlyList<float>? list) => list is null ? "nothing" :
        list.Count == 0 ? "an empty list" :
        string.Join(", ", list.Take(8).Select(v => v.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture))) + (list.Count > 8 ? ", …" : "");

    /// <summary>ᾱ(t), in float32 as the torch reference computes it.</summary>
    public float AlphaCumprod(float t)
    {
        if (_scaler > 1)
        {
            t = 1f - MathF.Pow(1f - t, (float)_scaler);
        }
        else if (_scaler < 1)
        {
            t = MathF.Pow(t, (float)_scaler);
        }

        float x = (t + _s) / (1f + _s) * MathF.PI * 0.5f;
        float c = MathF.Cos(x);
        float v = c * c / _initAlphaCumprod;
        return Math.Clamp(v, 0.0001f, 0.9999f);
    }

    /// <summary>The coefficients of one step t → prevT: x' = c1 · (x − (1−α)·eps / √(1−ᾱ_t)) + σ·z.</summary>
    public StepCoefficients Coefficients(float t, float prevT)
    {
        float at = AlphaCumprod(t);
        float ap = AlphaCumprod(prevT);
        float alpha = at / ap;
        float c1 = MathF.Sqrt(1.0f / alpha);
        float oneMinusAlpha = 1f - alpha;
        float sqrtOneMinusAt = MathF.Sqrt(1f - at);
        float sigma = MathF.Sqrt(oneMinusAlpha * (1.0f - ap) / (1f - at));
        return new StepCoefficients(at, ap, c1, oneMinusAlpha, sqrtOneMinusAt, sigma, prevT != 0f ? 1f : 0f);
    }

    /// <summary>One denoising step in place: x ← μ + σ·z·[prevT ≠ 0]. A noise tensor is always supplied (drawn on every step, the last included).</summary>
    public static void Step(Span<float> x, ReadOnlySpan<float> eps, ReadOnlySpan<float> noise, in StepCoefficients c)
    {
        if (eps.Length != x.Length || noise.Length != x.Length)
        {
            throw new ArgumentException("x, eps and noise must have the same length.");
        }

        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var vOma = new Vector<float>(c.OneMinusAlpha);
            var vSq = new Vector<float>(c.SqrtOneMinusAlphaCumprod);
            var vC1 = new Vector<float>(c.C1);
            var vSigma = new Vector<float>(c.Sigma);
            var vMask = new Vector<float>(c.NoiseMask);
            int n = Vector<float>.Count;
            for (; i <= x.Length - n; i += n)
            {
                var vx = new Vector<float>(x.Slice(i, n));
                var ve = new Vector<float>(eps.Slice(i, n));
                var vz = new Vector<float>(noise.Slice(i, n));
                var mu = vC1 * (vx - (vOma * ve / vSq));
                (mu + (vSigma * vz) * vMask).CopyTo(x.Slice(i, n));
            }
        }

        for (; i < x.Length; i++)
        {
            float mu = c.C1 * (x[i] - (c.OneMinusAlpha * eps[i] / c.SqrtOneMinusAlphaCumprod));
            x[i] = mu + (c.Sigma * noise[i]) * c.NoiseMask;
        }
    }
}

public readonly record struct StepCoefficients(
    float AlphaCumprod, float AlphaCumprodPrev, float C1, float OneMinusAlpha, float SqrtOneMinusAlphaCumprod, float Sigma, float NoiseMask)
{
    /// <summary>c2 of the reference table: (1−α)/√(1−ᾱ_t).</summary>
    public float C2 => OneMinusAlpha / SqrtOneMinusAlphaCumprod;
}
