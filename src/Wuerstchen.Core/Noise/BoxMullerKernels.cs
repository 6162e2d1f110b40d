using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Wuerstchen.Core.Noise;

/// <summary>
/// The Box–Muller transform of torch's <c>normal_fill_16_AVX2</c> on blocks of 16 uniforms (u1 = 1 − data[j],
/// u2 = data[j + 8], j &lt; 8; cos goes to j, sin to j + 8): the scalar reference port and the eight- and four-lane
/// kernels, all bit-identical. The arithmetic is <see cref="AvxMathFun"/>'s.
/// </summary>
internal static class BoxMullerKernels
{
    private const float TwoPi = AvxMathFun.TwoPi;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void BoxMuller16(ref float data)
    {
        for (int j = 0; j < 8; j++)
        {
            ref float a = ref Unsafe.Add(ref data, j);
            ref float b = ref Unsafe.Add(ref data, j + 8);
            float u1 = 1.0f - a;            // [0, 1) -> (0, 1] for log
            float u2 = b;
            float radius = MathF.Sqrt(-2.0f * AvxMathFun.Log256(u1));
            AvxMathFun.SinCos256(TwoPi * u2, out float sin, out float cos);
            // _mm256_fmadd_ps(n, std = 1, mean = 0)
            a = MathF.FusedMultiplyAdd(radius * cos, 1.0f, 0.0f);
            b = MathF.FusedMultiplyAdd(radius * sin, 1.0f, 0.0f);
        }
    }

    // ------------------------------------------------------------------------------------------ vectorised Box–Muller
    //
    // Lane for lane the same IEEE operations, in the same order, as BoxMuller16 / Log256 / SinCos256 above:
    // add, sub, mul, sqrt and fused multiply-add are correctly rounded in every lane, int <-> float conversions of
    // the small values involved are exact, and the scalar selects (c ? v : 0) become and/andnot masks that
    // produce the same +0.0f. Only NaN inputs could differ (max_ps vs MathF.Max), and Box–Muller never sees one:
    // u1 is in [2^-24, 1] and u2 in [0, 1).

    /// <summary>Runs the Box–Muller transform in place on every block of 16 of <paramref name="data"/>
    /// (length a multiple of 16) with the given kernel.</summary>
    internal static void BoxMuller(Span<float> data, TorchGenerator.NormalKernel kernel)
    {
        if ((data.Length & 15) != 0) throw new ArgumentException("Length must be a multiple of 16.", nameof(data));
        if (!TorchGenerator.IsKernelSupported(kernel)) throw new PlatformNotSupportedException($"{kernel} is not supported here.");
        if (data.Length == 0) return;
        Blocks(ref MemoryMarshal.GetReference(data), data.Length >> 4, kernel);
    }

    internal static void Blocks(ref float data, int blocks, TorchGenerator.NormalKernel kernel)
    {
        switch (kernel)
        {
            case TorchGenerator.NormalKernel.Vector256:
                for (int b = 0; b < blocks; b++) BoxMuller16Vector256(ref Unsafe.Add(ref data, b * 16));
                break;
            case TorchGenerator.NormalKernel.Vector128:
                for (int b = 0; b < blocks; b++)
                {
                    ref float block = ref Unsafe.Add(ref data, b * 16);
                    BoxMuller8Vector128(ref block);
                    BoxMuller8Vector128(ref Unsafe.Add(ref block, 4));
                }
                break;
            default:
                for (int b = 0; b < blocks; b++) BoxMuller16(ref Unsafe.Add(ref data, b * 16));
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BoxMuller16Vector256(ref float data)
    {
        Vector256<float> one = Vector256.Create(1.0f);
        Vector256<float> u1 = one - Vector256.LoadUnsafe(ref data);
        Vector256<float> u2 = Vector256.LoadUnsafe(ref data, 8);
        Vector256<float> radius = Avx.Sqrt(Vector256.Create(-2.0f) * AvxMathFun.Log256(u1));
        AvxMathFun.SinCos256(Vector256.Create(TwoPi) * u2, out Vector256<float> sin, out Vector256<float> cos);
        Fma.MultiplyAdd(radius * cos, one, Vector256<float>.Zero).StoreUnsafe(ref data);
        Fma.MultiplyAdd(radius * sin, one, Vector256<float>.Zero).StoreUnsafe(ref data, 8);
    }

    /// <summary>Lanes j .. j + 3 of a block (with their partners j + 8 .. j + 11).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BoxMuller8Vector128(ref float data)
    {
        Vector128<float> one = Vector128.Create(1.0f);
        Vector128<float> u1 = one - Vector128.LoadUnsafe(ref data);
        Vector128<float> u2 = Vector128.LoadUnsafe(ref data, 8);
        Vector128<float> radius = Vector128.Sqrt(Vector128.Create(-2.0f) * AvxMathFun.Log256(u1));
        AvxMathFun.SinCos256(Vector128.Create(TwoPi) * u2, out Vector128<float> sin, out Vector128<float> cos);
        AvxMathFun.FusedMultiplyAdd(radius * cos, one, Vector128<float>.Zero).StoreUnsafe(ref data);
        AvxMathFun.FusedMultiplyAdd(radius * sin, one, Vector128<float>.Zero).StoreUnsafe(ref data, 8);
    }
}
