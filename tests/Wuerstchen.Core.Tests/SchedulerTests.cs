using Wuerstchen.Core;
using Xunit;

namespace Wuerstchen.Core.Tests;

public class SchedulerTests
{
    private readonly DdpmWuerstchenScheduler _s = new();

    [Theory]
    [InlineData(1.0f, 0.0001)]
    [InlineData(0.0f, 0.9999)]
    [InlineData(0.75f, 0.144272)]
    [InlineData(0.5f, 0.493844)]
    [InlineData(0.25f, 0.847012)]
    public void AlphaCumprodMatchesReference(float t, double expected) =>
        Assert.Equal(expected, _s.AlphaCumprod(t), 5);

    // reference §5, decoder default 12 steps: t, prev, ᾱ_t, ᾱ_p, c1, c2, σ
    [Theory]
    [InlineData(0, 0.000100, 0.016772, 12.950619, 0.994087, 0.988668)]
    [InlineData(1, 0.016772, 0.065962, 1.983160, 0.752070, 0.841681)]
    [InlineData(6, 0.493844, 0.622468, 1.122701, 0.290446, 0.392589)]
    [InlineData(10, 0.927869, 0.980032, 1.027724, 0.198178, 0.121386)]
    [InlineData(11, 0.980032, 0.999900, 1.010086, 0.140616, 0.0)]
    public void TwelveStepCoefficientsMatchTheWorkedTable(int index, double at, double ap, double c1, double c2, double sigma)
    {
        var ts = DdpmWuerstchenScheduler.DefaultTimesteps(12);
        var c = _s.Coefficients(ts[index], ts[index + 1]);
        Assert.Equal(at, c.AlphaCumprod, 5);
        Assert.Equal(ap, c.AlphaCumprodPrev, 5);
        Assert.True(Math.Abs(c1 - c.C1) <= 2e-5 * Math.Max(1, c1), $"c1 {c.C1} vs {c1}");
        Assert.Equal(c2, c.C2, 4);
        Assert.Equal(sigma, c.Sigma * c.NoiseMask, 4);
    }

    [Fact]
    public void DefaultStageCTimestepsFirstAndLastStep()
    {
        float[] list = StageC();
        var first = _s.Coefficients(list[0], list[1]);
        Assert.Equal(0.000747, first.AlphaCumprodPrev, 5);
        Assert.Equal(2.733784, first.C1, 4);
        Assert.Equal(0.866239, first.C2, 4);
        Assert.Equal(0.930395, first.Sigma, 4);
        var last = _s.Coefficients(list[^2], list[^1]);
        Assert.Equal(1.006679, last.C1, 4);
        Assert.Equal(0.114576, last.C2, 4);
        Assert.Equal(0f, last.NoiseMask);
    }

    private static float[] StageC()
    {
        var a = DdpmWuerstchenScheduler.Linspace(1f, 2f / 3f, 20);
        var b = DdpmWuerstchenScheduler.Linspace(2f / 3f, 0f, 11).Skip(1);
        return a.Concat(b).ToArray();
    }

    [Fact]
    public void StageCListEqualsTheFloat32ValuesOfTheParityJob()
    {
        // the v3 parity job lists DEFAULT_STAGE_C_TIMESTEPS as torch produced them in float32
        float[] expected = { 1.0f, 0.9824561476707458f, 0.9649122953414917f, 0.6666666865348816f, 0.6000000238418579f, 0.06666667014360428f, 0.0f };
        var list = StageC();
        Assert.Equal(30, list.Length);
        Assert.Equal(expected[0], list[0]);
        Assert.Equal(expected[1], list[1]);
        Assert.Equal(expected[2], list[2]);
        Assert.Equal(expected[3], list[19]);
        Assert.Equal(expected[4], list[20]);
        Assert.Equal(expected[5], list[28]);
        Assert.Equal(expected[6], list[29]);
    }

    [Fact]
    public void DefaultTimestepsAreLinspaceFromOneToZero()
    {
        var ts = DdpmWuerstchenScheduler.DefaultTimesteps(60);
        Assert.Equal(61, ts.Length);
        Assert.Equal(1f, ts[0]);
        Assert.Equal(0f, ts[60]);
        Assert.Equal(0.5f, ts[30]);
        for (int i = 1; i < ts.Length; i++)
        {
            Assert.True(ts[i] < ts[i - 1]);
            Assert.Equal(1.0 - i / 60.0, ts[i], 6);
        }
    }

    [Fact]
    public void StepImplementsTheDdpmUpdateAndTheLastStepAddsNoNoise()
    {
        var c = _s.Coefficients(0.5f, 0.25f);
        float[] x = Enumerable.Range(0, 37).Select(i => i * 0.1f - 1f).ToArray();
        float[] eps = Enumerable.Range(0, 37).Select(i => MathF.Sin(i)).ToArray();
        float[] z = Enumerable.Range(0, 37).Select(i => MathF.Cos(i)).ToArray();
        var y = (float[])x.Clone();
        DdpmWuerstchenScheduler.Step(y, eps, z, c);
        for (int i = 0; i < x.Length; i++)
        {
            double expected = c.C1 * (x[i] - c.C2 * eps[i]) + c.Sigma * z[i];
            Assert.Equal(expected, y[i], 4);
        }

        var last = _s.Coefficients(0.25f, 0f);
        var a = (float[])x.Clone();
        var b = (float[])x.Clone();
        DdpmWuerstchenScheduler.Step(a, eps, z, last);
        DdpmWuerstchenScheduler.Step(b, eps, new float[37], last);
        Assert.Equal(a, b);
    }

    [Fact]
    public void ScalerWarpsTime()
    {
        var warped = new DdpmWuerstchenScheduler(0.008, 2.0);
        // scaler > 1: t → 1 − (1 − t)^2, so t = 0.5 behaves like 0.75
        Assert.Equal(_s.AlphaCumprod(0.75f), warped.AlphaCumprod(0.5f), 6);
        var low = new DdpmWuerstchenScheduler(0.008, 0.5);
        Assert.Equal(_s.AlphaCumprod(0.5f), low.AlphaCumprod(0.25f), 6);
    }

    [Theory]
    [InlineData(new float[] { 1f, 0.5f, 0.5f, 0f })]
    [InlineData(new float[] { 0f, 0.5f, 1f })]
    [InlineData(new float[] { 1f })]
    [InlineData(new float[] { 0.9f, 0.5f, 0f })]
    [InlineData(new float[] { 1f, 0.5f, 0.1f })]
    [InlineData(new float[] { 1.5f, 0.5f, 0f })]
    [InlineData(new float[] { 1f, float.NaN, 0f })]
    public void InvalidTimestepListsAreRejected(float[] list)
    {
        var ex = Assert.Throws<WuerstchenException>(() => DdpmWuerstchenScheduler.ValidateTimesteps(list, "PriorTimesteps"));
        Assert.Equal("InvalidTimesteps", ex.ErrorId);
        Assert.Contains("PriorTimesteps", ex.Message);
    }

    [Fact]
    public void GuidanceIsTorchLerpWithConditionalFirst()
    {
        float[] cond = { 1f, 2f, -3f, 0.5f, 10f, 0f, 0f, 1f, 1f };
        float[] uncond = { 0f, 1f, -1f, 0.25f, -10f, 0f, 1f, 1f, 2f };
        var scratch = new float[cond.Length];
        var dest = new float[cond.Length];
        DiffusionSampler.Guide(cond, uncond, 4f, scratch, dest);
        for (int i = 0; i < cond.Length; i++)
        {
            Assert.Equal(uncond[i] + 4f * (cond[i] - uncond[i]), dest[i], 5);
        }

        DiffusionSampler.Guide(cond, uncond, 0.25f, scratch, dest);
        Assert.Equal(uncond[0] + 0.25f * (cond[0] - uncond[0]), dest[0], 6);
    }
}
