using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Wuerstchen.Core.Noise;

/// <summary>
/// The mt19937 engine of at::mt19937 (MT19937RNGEngine.h): tempering and the state transition, scalar (the reference)
/// and vectorised (eight or four words at a time, bit-identical).
/// </summary>
internal static class Mt19937
{
    internal const int N = 624;
    private const int M = 397;
    private const uint MatrixA = 0x9908b0dfu;
    private const uint UpperMask = 0x80000000u;
    private const uint LowerMask = 0x7fffffffu;


    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Temper(uint y)
    {
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

    /// <summary>The mt19937 state transition, one word at a time (reference).</summary>
    internal static void TwistScalar(uint[] mt)
    {
        if (mt.Length != N) throw new ArgumentException("mt19937 state must have 624 words.", nameof(mt));
        int kk = 0;
        for (; kk < N - M; kk++) TwistWord(mt, kk, kk + M);
        for (; kk < N - 1; kk++) TwistWord(mt, kk, kk + (M - N));
        uint last = (mt[N - 1] & UpperMask) | (mt[0] & LowerMask);
        mt[N - 1] = mt[M - 1] ^ (last >> 1) ^ ((0u - (mt[0] & 1u)) & MatrixA);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TwistWord(uint[] mt, int kk, int far)
    {
        uint y = (mt[kk] & UpperMask) | (mt[kk + 1] & LowerMask);
        mt[kk] = mt[far] ^ (y >> 1) ^ ((0u - (mt[kk + 1] & 1u)) & MatrixA);
    }

    // The twist vectorises: word kk reads words kk, kk + 1 (not yet updated) and kk + M (not yet updated for
    // kk < N - M) or kk + M - N (already updated for kk >= N - M). A vector of words kk .. kk + w - 1 reads all of
    // those before storing, and kk + M - N + w - 1 < kk, so every lane sees exactly what the scalar loop sees.

    /// <summary>The mt19937 state transition, eight words at a time.</summary>
    internal static void TwistVector256(uint[] mt)
    {
        if (mt.Length != N) throw new ArgumentException("mt19937 state must have 624 words.", nameof(mt));
        ref uint s = ref MemoryMarshal.GetArrayDataReference(mt);
        Vector256<uint> upper = Vector256.Create(UpperMask), lower = Vector256.Create(LowerMask);
        Vector256<uint> one = Vector256.Create(1u), matrix = Vector256.Create(MatrixA);
        int kk = 0;
        for (; kk <= N - M - 8; kk += 8)
        {
            Vector256<uint> next = Vector256.LoadUnsafe(ref s, (nuint)(kk + 1));
            Vector256<uint> y = (Vector256.LoadUnsafe(ref s, (nuint)kk) & upper) | (next & lower);
            Vector256<uint> far = Vector256.LoadUnsafe(ref s, (nuint)(kk + M));
            (far ^ Vector256.ShiftRightLogical(y, 1) ^ ((Vector256<uint>.Zero - (next & one)) & matrix)).StoreUnsafe(ref s, (nuint)kk);
        }
        for (; kk < N - M; kk++) TwistWord(mt, kk, kk + M);
        for (; kk <= N - 1 - 8; kk += 8)
        {
            Vector256<uint> next = Vector256.LoadUnsafe(ref s, (nuint)(kk + 1));
            Vector256<uint> y = (Vector256.LoadUnsafe(ref s, (nuint)kk) & upper) | (next & lower);
            Vector256<uint> far = Vector256.LoadUnsafe(ref s, (nuint)(kk + (M - N)));
            (far ^ Vector256.ShiftRightLogical(y, 1) ^ ((Vector256<uint>.Zero - (next & one)) & matrix)).StoreUnsafe(ref s, (nuint)kk);
        }
        for (; kk < N - 1; kk++) TwistWord(mt, kk, kk + (M - N));
        uint last = (mt[N - 1] & UpperMask) | (mt[0] & LowerMask);
        mt[N - 1] = mt[M - 1] ^ (last >> 1) ^ ((0u - (mt[0] & 1u)) & MatrixA);
    }

    /// <summary>The mt19937 state transition, four words at a time.</summary>
    internal static void TwistVector128(uint[] mt)
    {
        if (mt.Length != N) throw new ArgumentException("mt19937 state must have 624 words.", nameof(mt));
        ref uint s = ref MemoryMarshal.GetArrayDataReference(mt);
        Vector128<uint> upper = Vector128.Create(UpperMask), lower = Vector128.Create(LowerMask);
        Vector128<uint> one = Vector128.Create(1u), matrix = Vector128.Create(MatrixA);
        int kk = 0;
        for (; kk <= N - M - 4; kk += 4)
        {
            Vector128<uint> next = Vector128.LoadUnsafe(ref s, (nuint)(kk + 1));
            Vector128<uint> y = (Vector128.LoadUnsafe(ref s, (nuint)kk) & upper) | (next & lower);
            Vector128<uint> far = Vector128.LoadUnsafe(ref s, (nuint)(kk + M));
            (far ^ Vector128.ShiftRightLogical(y, 1) ^ ((Vector128<uint>.Zero - (next & one)) & matrix)).StoreUnsafe(ref s, (nuint)kk);
        }
        for (; kk < N - M; kk++) TwistWord(mt, kk, kk + M);
        for (; kk <= N - 1 - 4; kk += 4)
        {
            Vector128<uint> next = Vector128.LoadUnsafe(ref s, (nuint)(kk + 1));
            Vector128<uint> y = (Vector128.LoadUnsafe(ref s, (nuint)kk) & upper) | (next & lower);
            Vector128<uint> far = Vector128.LoadUnsafe(ref s, (nuint)(kk + (M - N)));
            (far ^ Vector128.ShiftRightLogical(y, 1) ^ ((Vector128<uint>.Zero - (next & one)) & matrix)).StoreUnsafe(ref s, (nuint)kk);
        }
        for (; kk < N - 1; kk++) TwistWord(mt, kk, kk + (M - N));
        uint last = (mt[N - 1] & UpperMask) | (mt[0] & LowerMask);
        mt[N - 1] = mt[M - 1] ^ (last >> 1) ^ ((0u - (mt[0] & 1u)) & MatrixA);
    }
}
