using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Wuerstchen.Core.Noise;

/// <summary>
/// Ports of avx_mathfun.h's <c>log256_ps</c> and <c>sincos256_ps</c> (cephes polynomials) as torch's official Linux
/// x86-64 builds compile them (GCC, <c>-mavx2 -mfma</c>, multiply-adds fused where GCC contracts them): one lane, eight
/// lanes and four lanes, lane-wise equal.
/// </summary>
internal static class AvxMathFun
{

    // Constants of avx_mathfun.h. C++ initialises these float arrays from double literals, so they are
    // converted double -> float here too (a float literal could round differently).
    internal const float TwoPi = (float)(2.0 * Math.PI); // _mm256_set1_ps(2.0f * c10::pi<double>)
    private const float SqrtHalf = (float)0.707106781186547524;
    private const float LogP0 = (float)7.0376836292E-2;
    private const float LogP1 = (float)-1.1514610310E-1;
    private const float LogP2 = (float)1.1676998740E-1;
    private const float LogP3 = (float)-1.2420140846E-1;
    private const float LogP4 = (float)1.4249322787E-1;
    private const float LogP5 = (float)-1.6668057665E-1;
    private const float LogP6 = (float)2.0000714765E-1;
    private const float LogP7 = (float)-2.4999993993E-1;
    private const float LogP8 = (float)3.3333331174E-1;
    private const float LogQ1 = (float)-2.12194440e-4;
    private const float LogQ2 = (float)0.693359375;
    private const float MinusDp1 = (float)-0.78515625;
    private const float MinusDp2 = (float)-2.4187564849853515625e-4;
    private const float MinusDp3 = (float)-3.77489497744594108e-8;
    private const float SinP0 = (float)-1.9515295891E-4;
    private const float SinP1 = (float)8.3321608736E-3;
    private const float SinP2 = (float)-1.6666654611E-1;
    private const float CosP0 = (float)2.443315711809948E-005;
    private const float CosP1 = (float)-1.388731625493765E-003;
    private const float CosP2 = (float)4.166664568298827E-002;
    private const float FourOverPi = (float)1.27323954473516;

    /// <summary>One lane of avx_mathfun's <c>log256_ps</c>, with GCC's FMA contractions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Log256(float value)
    {
        bool invalid = !(value > 0.0f) && !float.IsNaN(value); // _CMP_LE_OS: NaN compares false
        uint bits = BitConverter.SingleToUInt32Bits(MathF.Max(value, 1.17549435e-38f)); // cut off denormals
        int exponent = (int)(bits >> 23);
        float x = BitConverter.UInt32BitsToSingle((bits & ~0x7f800000u) | 0x3f000000u); // mantissa in [0.5, 1)
        float e = exponent - 0x7f;
        e += 1.0f;

        // if (x < SQRTHF) { e -= 1; x = x + x - 1; } else { x = x - 1; }
        bool small = x < SqrtHalf;
        float tmp = small ? x : 0.0f;
        x -= 1.0f;
        e -= small ? 1.0f : 0.0f;
        x += tmp;

        float z = x * x;
        float y = MathF.FusedMultiplyAdd(LogP0, x, LogP1);
        y = MathF.FusedMultiplyAdd(y, x, LogP2);
        y = MathF.FusedMultiplyAdd(y, x, LogP3);
        y = MathF.FusedMultiplyAdd(y, x, LogP4);
        y = MathF.FusedMultiplyAdd(y, x, LogP5);
        y = MathF.FusedMultiplyAdd(y, x, LogP6);
        y = MathF.FusedMultiplyAdd(y, x, LogP7);
        y = MathF.FusedMultiplyAdd(y, x, LogP8);
        y *= x;
        y = MathF.FusedMultiplyAdd(y, z, e * LogQ1);     // y*z + e*q1
        y = MathF.FusedMultiplyAdd(-z, 0.5f, y);          // y - z*0.5
        x = MathF.FusedMultiplyAdd(e, LogQ2, x + y);      // (x + y) + e*q2
        return invalid ? float.NaN : x;
    }

    /// <summary>One lane of avx_mathfun's <c>sincos256_ps</c>, with GCC's FMA contractions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void SinCos256(float value, out float sin, out float cos)
    {
        uint valueBits = BitConverter.SingleToUInt32Bits(value);
        uint signSin = valueBits & 0x80000000u;
        float x = BitConverter.UInt32BitsToSingle(valueBits & 0x7fffffffu);

        // j = ((int)(x * 4/pi) + 1) & ~1
        int j = (int)(x * FourOverPi);
        j = (j + 1) & ~1;
        float y = j;
        signSin ^= (uint)(j & 4) << 29;
        bool polyMask = (j & 2) == 0;
        uint signCos = (uint)(~(j - 2) & 4) << 29;

        // extended precision modular arithmetic: x = ((x - y*DP1) - y*DP2) - y*DP3
        x = MathF.FusedMultiplyAdd(y, MinusDp1, x);
        x = MathF.FusedMultiplyAdd(y, MinusDp2, x);
        x = MathF.FusedMultiplyAdd(y, MinusDp3, x);

        float z = x * x;
        float yc = MathF.FusedMultiplyAdd(CosP0, z, CosP1);
        yc = MathF.FusedMultiplyAdd(yc, z, CosP2);
        yc *= z;
        yc = MathF.FusedMultiplyAdd(yc, z, -(z * 0.5f));  // y*z - z*0.5
        yc += 1.0f;

        float ys = MathF.FusedMultiplyAdd(SinP0, z, SinP1);
        ys = MathF.FusedMultiplyAdd(ys, z, SinP2);
        ys *= z;
        ys = MathF.FusedMultiplyAdd(ys, x, x);

        // select the polynomials exactly like the AVX code (and/andnot, sub, add)
        float ysin2 = polyMask ? ys : 0.0f;
        float ysin1 = polyMask ? 0.0f : yc;
        ys -= ysin2;
        yc -= ysin1;
        float s = ysin1 + ysin2;
        float c = yc + ys;
        sin = BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(s) ^ signSin);
        cos = BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(c) ^ signCos);
    }

    // Negation flips the sign bit, like scalar float negation (an operator that computed 0 - v would turn +0
    // into +0 instead of -0).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Negate(Vector256<float> v) => (v.AsUInt32() ^ Vector256.Create(0x80000000u)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Negate(Vector128<float> v) => (v.AsUInt32() ^ Vector128.Create(0x80000000u)).AsSingle();

    /// <summary><c>log256_ps</c> on eight lanes (AVX2 + FMA3); lane-wise equal to <see cref="Log256(float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Log256(Vector256<float> value)
    {
        Vector256<float> one = Vector256.Create(1.0f);
        Vector256<float> invalid = Avx.CompareLessThanOrEqual(value, Vector256<float>.Zero); // ordered: NaN -> false
        Vector256<float> x = Avx.Max(value, Vector256.Create(1.17549435e-38f)); // cut off denormals
        Vector256<int> exponent = Avx2.ShiftRightLogical(x.AsInt32(), 23);
        x = ((x.AsUInt32() & Vector256.Create(~0x7f800000u)) | Vector256.Create(0x3f000000u)).AsSingle();
        Vector256<float> e = Avx.ConvertToVector256Single(exponent - Vector256.Create(0x7f));
        e += one;

        Vector256<float> small = Avx.CompareLessThan(x, Vector256.Create(SqrtHalf));
        Vector256<float> tmp = x & small;
        x -= one;
        e -= one & small;
        x += tmp;

        Vector256<float> z = x * x;
        Vector256<float> y = Fma.MultiplyAdd(Vector256.Create(LogP0), x, Vector256.Create(LogP1));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP2));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP3));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP4));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP5));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP6));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP7));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP8));
        y *= x;
        y = Fma.MultiplyAdd(y, z, e * Vector256.Create(LogQ1));
        y = Fma.MultiplyAdd(Negate(z), Vector256.Create(0.5f), y);
        x = Fma.MultiplyAdd(e, Vector256.Create(LogQ2), x + y);
        return Avx.BlendVariable(x, Vector256.Create(float.NaN), invalid);
    }

    /// <summary><c>sincos256_ps</c> on eight lanes (AVX2 + FMA3); lane-wise equal to <see cref="SinCos256(float, out float, out float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void SinCos256(Vector256<float> value, out Vector256<float> sin, out Vector256<float> cos)
    {
        Vector256<uint> valueBits = value.AsUInt32();
        Vector256<uint> signSin = valueBits & Vector256.Create(0x80000000u);
        Vector256<float> x = (valueBits & Vector256.Create(0x7fffffffu)).AsSingle();

        Vector256<int> j = Avx.ConvertToVector256Int32WithTruncation(x * Vector256.Create(FourOverPi));
        j = (j + Vector256.Create(1)) & Vector256.Create(~1);
        Vector256<float> y = Avx.ConvertToVector256Single(j);
        signSin ^= Avx2.ShiftLeftLogical(j & Vector256.Create(4), 29).AsUInt32();
        Vector256<float> polyMask = Avx2.CompareEqual(j & Vector256.Create(2), Vector256<int>.Zero).AsSingle();
        Vector256<uint> signCos = Avx2.ShiftLeftLogical(Avx2.AndNot(j - Vector256.Create(2), Vector256.Create(4)), 29).AsUInt32();

        x = Fma.MultiplyAdd(y, Vector256.Create(MinusDp1), x);
        x = Fma.MultiplyAdd(y, Vector256.Create(MinusDp2), x);
        x = Fma.MultiplyAdd(y, Vector256.Create(MinusDp3), x);

        Vector256<float> z = x * x;
        Vector256<float> yc = Fma.MultiplyAdd(Vector256.Create(CosP0), z, Vector256.Create(CosP1));
        yc = Fma.MultiplyAdd(yc, z, Vector256.Create(CosP2));
        yc *= z;
        yc = Fma.MultiplyAdd(yc, z, Negate(z * Vector256.Create(0.5f)));
        yc += Vector256.Create(1.0f);

        Vector256<float> ys = Fma.MultiplyAdd(Vector256.Create(SinP0), z, Vector256.Create(SinP1));
        ys = Fma.MultiplyAdd(ys, z, Vector256.Create(SinP2));
        ys *= z;
        ys = Fma.MultiplyAdd(ys, x, x);

        Vector256<float> ysin2 = ys & polyMask;
        Vector256<float> ysin1 = Avx.AndNot(polyMask, yc); // ~polyMask & yc
        ys -= ysin2;
        yc -= ysin1;
        Vector256<float> s = ysin1 + ysin2;
        Vector256<float> c = yc + ys;
        sin = (s.AsUInt32() ^ signSin).AsSingle();
        cos = (c.AsUInt32() ^ signCos).AsSingle();
    }

    // Four-lane versions: the portable Vector128 operations map to single SSE / NEON instructions whose lanes are
    // IEEE operations; only the fused multiply-add and max need the platform intrinsics.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> FusedMultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c)
    {
        if (Fma.IsSupported) return Fma.MultiplyAdd(a, b, c);
        if (AdvSimd.IsSupported) return AdvSimd.FusedMultiplyAdd(c, a, b); // c + a * b, one rounding
        throw new PlatformNotSupportedException();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Max(Vector128<float> a, Vector128<float> b)
    {
        if (Sse.IsSupported) return Sse.Max(a, b);
        if (AdvSimd.IsSupported) return AdvSimd.Max(a, b);
        throw new PlatformNotSupportedException();
    }

    /// <summary><c>log256_ps</c> on four lanes; lane-wise equal to <see cref="Log256(float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Log256(Vector128<float> value)
    {
        Vector128<float> one = Vector128.Create(1.0f);
        Vector128<float> invalid = Vector128.LessThanOrEqual(value, Vector128<float>.Zero); // NaN -> false
        Vector128<float> x = Max(value, Vector128.Create(1.17549435e-38f)); // cut off denormals
        Vector128<int> exponent = Vector128.ShiftRightLogical(x.AsInt32(), 23);
        x = ((x.AsUInt32() & Vector128.Create(~0x7f800000u)) | Vector128.Create(0x3f000000u)).AsSingle();
        Vector128<float> e = Vector128.ConvertToSingle(exponent - Vector128.Create(0x7f));
        e += one;

        Vector128<float> small = Vector128.LessThan(x, Vector128.Create(SqrtHalf));
        Vector128<float> tmp = x & small;
        x -= one;
        e -= one & small;
        x += tmp;

        Vector128<float> z = x * x;
        Vector128<float> y = FusedMultiplyAdd(Vector128.Create(LogP0), x, Vector128.Create(LogP1));
        y = FusedMultiplyAdd(y, x, Vector128.Create(LogP2));
        y = FusedMultiplyAdd(y, x, Vector128.Create(LogP3));
        y = FusedMultiplyAdd(y, x, Vector128.Create(LogP4));
        y = FusedMultiplyAdd(y, x, Vector128.Create(LogP5));
        y = FusedMultiplyAdd(y, x, Vector128.Create(LogP6));
        y = FusedMultiplyAdd(y, x, Vector128.Create(LogP7));
        y = FusedMultiplyAdd(y, x, Vector128.Create(LogP8));
        y *= x;
        y = FusedMultiplyAdd(y, z, e * Vector128.Create(LogQ1));
        y = FusedMultiplyAdd(Negate(z), Vector128.Create(0.5f), y);
        x = FusedMultiplyAdd(e, Vector128.Create(LogQ2), x + y);
        return Vector128.ConditionalSelect(invalid, Vector128.Create(float.NaN), x);
    }

    /// <summary><c>sincos256_ps</c> on four lanes; lane-wise equal to <see cref="SinCos256(float, out float, out float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void SinCos256(Vector128<float> value, out Vector128<float> sin, out Vector128<float> cos)
    {
        Vector128<uint> valueBits = value.AsUInt32();
        Vector128<uint> signSin = valueBits & Vector128.Create(0x80000000u);
        Vector128<float> x = (valueBits & Vector128.Create(0x7fffffffu)).AsSingle();

        // truncating conversion; x * 4/pi is small and finite here, where all platforms agree
        Vector128<int> j = Vector128.ConvertToInt32(x * Vector128.Create(FourOverPi));
        j = (j + Vector128.Create(1)) & Vector128.Create(~1);
        Vector128<float> y = Vector128.ConvertToSingle(j);
        signSin ^= Vector128.ShiftLeft(j & Vector128.Create(4), 29).AsUInt32();
        Vector128<float> polyMask = Vector128.Equals(j & Vector128.Create(2), Vector128<int>.Zero).AsSingle();
        Vector128<uint> signCos = Vector128.ShiftLeft(Vector128.AndNot(Vector128.Create(4), j - Vector128.Create(2)), 29).AsUInt32();

        x = FusedMultiplyAdd(y, Vector128.Create(MinusDp1), x);
        x = FusedMultiplyAdd(y, Vector128.Create(MinusDp2), x);
        x = FusedMultiplyAdd(y, Vector128.Create(MinusDp3), x);

        Vector128<float> z = x * x;
        Vector128<float> yc = FusedMultiplyAdd(Vector128.Create(CosP0), z, Vector128.Create(CosP1));
        yc = FusedMultiplyAdd(yc, z, Vector128.Create(CosP2));
        yc *= z;
        yc = FusedMultiplyAdd(yc, z, Negate(z * Vector128.Create(0.5f)));
        yc += Vector128.Create(1.0f);

        Vector128<float> ys = FusedMultiplyAdd(Vector128.Create(SinP0), z, Vector128.Create(SinP1));
        ys = FusedMultiplyAdd(ys, z, Vector128.Create(SinP2));
        ys *= z;
        ys = FusedMultiplyAdd(ys, x, x);

        Vector128<float> ysin2 = ys & polyMask;
        Vector128<float> ysin1 = Vector128.AndNot(yc, polyMask); // yc & ~polyMask
        ys -= ysin2;
        yc -= ysin1;
        Vector128<float> s = ysin1 + ysin2;
        Vector128<float> c = yc + ys;
        sin = (s.AsUInt32() ^ signSin).AsSingle();
        cos = (c.AsUInt32() ^ signCos).AsSingle();
    }
}
