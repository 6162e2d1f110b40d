using System.Runtime.Intrinsics;
using Wuerstchen.Core.Noise;
using Xunit;

namespace Wuerstchen.Core.Tests.Noise;

/// <summary>The port of avx_mathfun log and sincos: vector against scalar, scalar against the true functions.</summary>
public class AvxMathFunTests
{
    [Fact]
    public void VectorLogAndSinCos_MatchScalarPortOnEveryBoxMullerInput()
    {
        // every u1 = 1 - k/2^24 that log sees and every theta = 2*pi*k/2^24 that sincos sees, k in [0, 2^24)
        const int Count = 1 << 24;
        const float TwoPi = (float)(2.0 * Math.PI);
        bool v256 = TorchGenerator.IsKernelSupported(TorchGenerator.NormalKernel.Vector256);
        bool v128 = TorchGenerator.IsKernelSupported(TorchGenerator.NormalKernel.Vector128);
        if (!v256 && !v128) return; // no vector kernel on this machine
        Span<float> u1 = stackalloc float[8], theta = stackalloc float[8];
        Span<float> log = stackalloc float[8], sin = stackalloc float[8], cos = stackalloc float[8];
        for (int k = 0; k < Count; k += 8)
        {
            for (int l = 0; l < 8; l++)
            {
                u1[l] = 1.0f - (k + l) * (1.0f / 16777216.0f);
                theta[l] = TwoPi * ((k + l) * (1.0f / 16777216.0f));
                log[l] = AvxMathFun.Log256(u1[l]);
                AvxMathFun.SinCos256(theta[l], out sin[l], out cos[l]);
            }
            if (v256)
            {
                Vector256<float> vl = AvxMathFun.Log256(Vector256.Create((ReadOnlySpan<float>)u1));
                AvxMathFun.SinCos256(Vector256.Create((ReadOnlySpan<float>)theta), out Vector256<float> vs, out Vector256<float> vc);
                for (int l = 0; l < 8; l++)
                {
                    if (BitConverter.SingleToInt32Bits(vl[l]) != BitConverter.SingleToInt32Bits(log[l])) Assert.Fail($"log256 v256 u1={u1[l]:R}: {vl[l]:R} vs {log[l]:R}");
                    if (BitConverter.SingleToInt32Bits(vs[l]) != BitConverter.SingleToInt32Bits(sin[l])) Assert.Fail($"sin v256 theta={theta[l]:R}: {vs[l]:R} vs {sin[l]:R}");
                    if (BitConverter.SingleToInt32Bits(vc[l]) != BitConverter.SingleToInt32Bits(cos[l])) Assert.Fail($"cos v256 theta={theta[l]:R}: {vc[l]:R} vs {cos[l]:R}");
                }
            }
            if (v128)
            {
                for (int h = 0; h < 8; h += 4)
                {
                    Vector128<float> vl = AvxMathFun.Log256(Vector128.Create((ReadOnlySpan<float>)u1.Slice(h, 4)));
                    AvxMathFun.SinCos256(Vector128.Create((ReadOnlySpan<float>)theta.Slice(h, 4)), out Vector128<float> vs, out Vector128<float> vc);
                    for (int l = 0; l < 4; l++)
                    {
                        if (BitConverter.SingleToInt32Bits(vl[l]) != BitConverter.SingleToInt32Bits(log[h + l])) Assert.Fail($"log256 v128 u1={u1[h + l]:R}");
                        if (BitConverter.SingleToInt32Bits(vs[l]) != BitConverter.SingleToInt32Bits(sin[h + l])) Assert.Fail($"sin v128 theta={theta[h + l]:R}");
                        if (BitConverter.SingleToInt32Bits(vc[l]) != BitConverter.SingleToInt32Bits(cos[h + l])) Assert.Fail($"cos v128 theta={theta[h + l]:R}");
                    }
                }
            }
        }
    }

    [Fact]
    public void AvxMathfunPort_IsCloseToTheTrueFunctions()
    {
        // the Box–Muller inputs: u1 in (0, 1] on the 2^-24 grid, theta = 2*pi*u2 in [0, 2*pi)
        for (int k = 1; k <= (1 << 24); k += 997)
        {
            float u = k / 16777216.0f;
            Assert.True(Math.Abs(AvxMathFun.Log256(u) - Math.Log(u)) <= 2e-7 * Math.Max(1.0, Math.Abs(Math.Log(u))), $"log({u:R})");
            float theta = (float)(2.0 * Math.PI) * (1.0f - u);
            AvxMathFun.SinCos256(theta, out float s, out float c);
            Assert.True(Math.Abs(s - Math.Sin(theta)) <= 3e-7, $"sin({theta:R})");
            Assert.True(Math.Abs(c - Math.Cos(theta)) <= 3e-7, $"cos({theta:R})");
        }
        Assert.Equal(0.0f, AvxMathFun.Log256(1.0f));
        Assert.True(float.IsNaN(AvxMathFun.Log256(0.0f)));
    }
}
