using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Wuerstchen.Core.Noise;

/// <summary>
/// Serializable position of a <see cref="TorchGenerator"/>: the seed it was created with, how many 32-bit
/// mt19937 outputs have been consumed since seeding, and the cached second Box–Muller sample of the serial
/// (fewer than 16 elements) normal path, exactly like <c>CPUGeneratorImpl::next_double_normal_sample_</c>.
/// </summary>
public readonly record struct GeneratorState(ulong Seed, long Offset, double? NextDoubleNormal);

/// <summary>
/// Bit-exact re-implementation of PyTorch's CPU <c>torch.Generator</c> (at::mt19937 +
/// CPUGeneratorImpl) and of float32 <c>torch.randn</c> on it, so that a seed produces the same noise as
/// diffusers running on the CPU.
/// </summary>
/// <remarks>
/// <para>What is reproduced (see aten/src/ATen/core/MT19937RNGEngine.h, DistributionsHelper.h,
/// TransformationHelper.h, native/cpu/DistributionTemplates.h, native/cpu/avx_mathfun.h):</para>
/// <list type="bullet">
/// <item>mt19937 seeded with <c>seed &amp; 0xFFFFFFFF</c> (torch.manual_seed).</item>
/// <item>float uniforms: the low 24 bits of one 32-bit output times 2^-24.</item>
/// <item><c>randn</c> of a contiguous float tensor with at least 16 elements (<c>normal_fill_AVX2</c>):
/// every element is first filled with a uniform, then Box–Muller runs on each block of 16
/// (u1 = 1 - data[j], u2 = data[j + 8], j &lt; 8; cos goes to j, sin to j + 8). If the size is not a multiple
/// of 16 the last 16 elements are recomputed from 16 fresh uniforms.</item>
/// <item>The Box–Muller arithmetic is a scalar port of <c>log256_ps</c> / <c>sincos256_ps</c> (cephes
/// polynomials) with the multiply-adds fused exactly where GCC contracts them in the official Linux x86-64
/// builds (<c>-mavx2 -mfma</c>, default <c>-ffp-contract=fast</c>). This reproduces the reference
/// vectors bit for bit. Torch builds without that contraction (MSVC, clang) or without AVX2 (ARM, which uses
/// std::log/std::cos/std::sin) differ in the last bits (up to about 2e-6 absolute).</item>
/// <item><c>randn</c> with fewer than 16 elements uses the serial path: <c>normal_distribution&lt;double&gt;</c>
/// with 53-bit uniforms from <c>random64()</c> (two outputs, first one high), <c>log1p</c>, and a cached second
/// sample that later serial draws consume first. Large draws neither read nor clear that cache.</item>
/// </list>
/// <para>Not thread-safe: use one instance per thread (torch locks its generator instead).</para>
/// </remarks>
public sealed class TorchGenerator
{
    private const int N = 624;
    private const int M = 397;
    private const uint MatrixA = 0x9908b0dfu;
    private const uint UpperMask = 0x80000000u;
    private const uint LowerMask = 0x7fffffffu;

    private readonly uint[] _mt = new uint[N];
    private int _index;
    private long _offset;
    private double? _nextDoubleNormal;

    /// <summary>Equivalent of <c>torch.Generator().manual_seed(seed)</c>: mt19937 seeded with the low 32 bits.</summary>
    public TorchGenerator(ulong seed)
    {
        Seed = seed;
        uint[] mt = _mt;
        mt[0] = (uint)(seed & 0xFFFFFFFFu);
        for (int j = 1; j < N; j++)
        {
            uint prev = mt[j - 1];
            mt[j] = unchecked(1812433253u * (prev ^ (prev >> 30)) + (uint)j);
        }
        _index = N; // the first output triggers a twist, like torch's left_ = 1
    }

    /// <summary>Re-seeds with <see cref="GeneratorState.Seed"/>, skips <see cref="GeneratorState.Offset"/>
    /// outputs and restores the cached serial normal sample.</summary>
    public static TorchGenerator FromState(GeneratorState state)
    {
        if (state.Offset < 0) throw new ArgumentOutOfRangeException(nameof(state), "Offset must not be negative.");
        var g = new TorchGenerator(state.Seed);
        g.Skip(state.Offset);
        g._nextDoubleNormal = state.NextDoubleNormal;
        return g;
    }

    /// <summary>The seed as given (torch's <c>initial_seed()</c>); only its low 32 bits affect the stream.</summary>
    public ulong Seed { get; }

    /// <summary>Number of 32-bit mt19937 outputs consumed since seeding.</summary>
    public long Offset => _offset;

    /// <summary>Snapshot that <see cref="FromState"/> turns back into an identical generator.</summary>
    public GeneratorState State => new(Seed, _offset, _nextDoubleNormal);

    /// <summary>Next raw mt19937 output (torch's <c>generator->random()</c>).</summary>
    public uint NextUInt32()
    {
        if (_index >= N) Twist();
        _offset++;
        return Temper(_mt[_index++]);
    }

    /// <summary>Advances by <paramref name="count"/> 32-bit outputs without tempering them
    /// (one twist per 624 outputs, roughly 0.1–0.2 ms per million with the vectorised twist).</summary>
    public void Skip(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        _offset += count;
        while (count > 0)
        {
            if (_index >= N) Twist();
            int take = (int)Math.Min(N - _index, count);
            _index += take;
            count -= take;
        }
    }

    /// <summary>Allocating convenience overload of <see cref="Randn(Span{float})"/>.</summary>
    public float[] Randn(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var result = new float[count];
        Randn(result);
        return result;
    }

    /// <summary>
    /// Exactly <c>torch.randn(shape, generator=g, dtype=torch.float32)</c> for a contiguous tensor of
    /// <c>destination.Length</c> elements (mean 0, std 1). Allocation-free: the destination doubles as the
    /// uniform scratch buffer, as in torch.
    /// </summary>
    /// <remarks>
    /// Uses the widest Box–Muller kernel the CPU supports (<see cref="BestKernel"/>); every kernel performs the
    /// same IEEE operations per lane in the same order as the scalar port, so the output does not depend on
    /// the kernel. The uniform fill and the Box–Muller pass are interleaved per mt19937 state block (624 words)
    /// so the data is transformed while it is still in the L1 cache; the result is the same as filling
    /// everything first.
    /// </remarks>
    public void Randn(Span<float> destination) => RandnCore(destination, BestKernel);

    /// <summary>
    /// Number of 32-bit outputs one <see cref="Randn(Span{float})"/> of <paramref name="count"/> elements
    /// consumes: <c>count</c>, plus 16 when <c>count % 16 != 0</c>, for <c>count &gt;= 16</c>. For
    /// <c>0 &lt; count &lt; 16</c> (serial path) the value assumes no cached normal sample: 4 outputs per
    /// pair of elements; a cached sample saves 4 outputs when <c>count</c> is odd (see <see cref="State"/>).
    /// </summary>
    public static long WordsForRandn(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count >= 16) return count + ((count & 15) != 0 ? 16 : 0);
        return 4 * ((count + 1) / 2);
    }

    /// <summary>Box–Muller implementations of <c>normal_fill_16_AVX2</c>; all give bit-identical results.</summary>
    internal enum NormalKernel
    {
        /// <summary>The scalar reference port (one lane at a time).</summary>
        Scalar,
        /// <summary>Four lanes: x86 with FMA3, or ARM64 AdvSimd.</summary>
        Vector128,
        /// <summary>Eight lanes, like torch: x86 with AVX2 and FMA3.</summary>
        Vector256,
    }

    /// <summary>The kernel <see cref="Randn(Span{float})"/> uses on this machine.</summary>
    internal static NormalKernel BestKernel { get; } =
        IsKernelSupported(NormalKernel.Vector256) ? NormalKernel.Vector256
        : IsKernelSupported(NormalKernel.Vector128) ? NormalKernel.Vector128
        : NormalKernel.Scalar;

    internal static bool IsKernelSupported(NormalKernel kernel) => kernel switch
    {
        NormalKernel.Scalar => true,
        NormalKernel.Vector128 => (Fma.IsSupported && Sse2.IsSupported) || AdvSimd.Arm64.IsSupported,
        NormalKernel.Vector256 => Avx2.IsSupported && Fma.IsSupported,
        _ => false,
    };

    /// <summary><see cref="Randn(Span{float})"/> with an explicit Box–Muller kernel (for tests).</summary>
    internal void RandnCore(Span<float> destination, NormalKernel kernel)
    {
        int n = destination.Length;
        if (n == 0) return;
        if (n < 16)
        {
            for (int i = 0; i < n; i++) destination[i] = (float)NextSerialNormal();
            return;
        }
        if (!IsKernelSupported(kernel)) throw new PlatformNotSupportedException($"{kernel} is not supported here.");

        // Fill with uniforms and run Box–Muller on every complete block of 16 as soon as it is filled. Only
        // the uniforms matter, so this equals torch's "fill all, then transform all".
        ref float data = ref MemoryMarshal.GetReference(destination);
        ref uint mt = ref MemoryMarshal.GetArrayDataReference(_mt);
        int blockEnd = n & ~15;
        int filled = 0, transformed = 0;
        while (filled < n)
        {
            if (_index >= N) Twist();
            int take = Math.Min(N - _index, n - filled);
            TemperToUniform(ref Unsafe.Add(ref mt, _index), ref Unsafe.Add(ref data, filled), take);
            _index += take;
            filled += take;
            int ready = Math.Min(filled, blockEnd) & ~15;
            if (ready > transformed)
            {
                BoxMullerBlocks(ref Unsafe.Add(ref data, transformed), (ready - transformed) >> 4, kernel);
                transformed = ready;
            }
        }
        _offset += n;

        if ((n & 15) != 0)
        {
            // torch recomputes the last 16 values from 16 fresh uniforms.
            Span<float> tail = destination.Slice(n - 16, 16);
            FillUniform(tail);
            BoxMullerBlocks(ref MemoryMarshal.GetReference(tail), 1, kernel);
        }
    }

    /// <summary>
    /// The straightforward scalar implementation (scalar twist and tempering, fill everything, then the scalar
    /// Box–Muller port block by block), kept as the reference the fast path is tested against.
    /// </summary>
    internal void RandnReference(Span<float> destination)
    {
        int n = destination.Length;
        if (n == 0) return;
        if (n < 16)
        {
            for (int i = 0; i < n; i++) destination[i] = (float)NextSerialNormal();
            return;
        }

        FillUniformReference(destination);
        ref float data = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < n - 15; i += 16) BoxMuller16(ref Unsafe.Add(ref data, i));
        if ((n & 15) != 0)
        {
            Span<float> tail = destination.Slice(n - 16, 16);
            FillUniformReference(tail);
            BoxMuller16(ref MemoryMarshal.GetReference(tail));
        }
    }

    // ------------------------------------------------------------------------------------------ mt19937

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Temper(uint y)
    {
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

    private void Twist()
    {
        if (Vector256.IsHardwareAccelerated) TwistVector256(_mt);
        else if (Vector128.IsHardwareAccelerated) TwistVector128(_mt);
        else TwistScalar(_mt);
        _index = 0;
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

    private const float UniformScale = 1.0f / 16777216.0f;

    /// <summary>
    /// Tempers <paramref name="count"/> state words into float uniforms (low 24 bits times 2^-24). The int → float
    /// conversion of a 24-bit value and the power-of-two scale are exact, so the vector lanes equal the scalar code.
    /// </summary>
    private static void TemperToUniform(ref uint source, ref float destination, int count)
    {
        int k = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<uint> m1 = Vector256.Create(0x9d2c5680u), m2 = Vector256.Create(0xefc60000u), low = Vector256.Create(0xFFFFFFu);
            Vector256<float> scale = Vector256.Create(UniformScale);
            for (; k <= count - 8; k += 8)
            {
                Vector256<uint> y = Vector256.LoadUnsafe(ref source, (nuint)k);
                y ^= Vector256.ShiftRightLogical(y, 11);
                y ^= Vector256.ShiftLeft(y, 7) & m1;
                y ^= Vector256.ShiftLeft(y, 15) & m2;
                y ^= Vector256.ShiftRightLogical(y, 18);
                (Vector256.ConvertToSingle((y & low).AsInt32()) * scale).StoreUnsafe(ref destination, (nuint)k);
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<uint> m1 = Vector128.Create(0x9d2c5680u), m2 = Vector128.Create(0xefc60000u), low = Vector128.Create(0xFFFFFFu);
            Vector128<float> scale = Vector128.Create(UniformScale);
            for (; k <= count - 4; k += 4)
            {
                Vector128<uint> y = Vector128.LoadUnsafe(ref source, (nuint)k);
                y ^= Vector128.ShiftRightLogical(y, 11);
                y ^= Vector128.ShiftLeft(y, 7) & m1;
                y ^= Vector128.ShiftLeft(y, 15) & m2;
                y ^= Vector128.ShiftRightLogical(y, 18);
                (Vector128.ConvertToSingle((y & low).AsInt32()) * scale).StoreUnsafe(ref destination, (nuint)k);
            }
        }
        for (; k < count; k++) Unsafe.Add(ref destination, k) = (int)(Temper(Unsafe.Add(ref source, k)) & 0xFFFFFFu) * UniformScale;
    }

    /// <summary>at::uniform_real_distribution&lt;float&gt;(0, 1): (random() &amp; (2^24 - 1)) * 2^-24.</summary>
    private void FillUniform(Span<float> destination)
    {
        ref float data = ref MemoryMarshal.GetReference(destination);
        ref uint mt = ref MemoryMarshal.GetArrayDataReference(_mt);
        int i = 0;
        while (i < destination.Length)
        {
            if (_index >= N) Twist();
            int take = Math.Min(N - _index, destination.Length - i);
            TemperToUniform(ref Unsafe.Add(ref mt, _index), ref Unsafe.Add(ref data, i), take);
            _index += take;
            i += take;
        }
        _offset += destination.Length;
    }

    /// <summary><see cref="FillUniform"/> with the scalar twist and tempering (reference).</summary>
    private void FillUniformReference(Span<float> destination)
    {
        uint[] mt = _mt;
        int i = 0;
        while (i < destination.Length)
        {
            if (_index >= N)
            {
                TwistScalar(mt);
                _index = 0;
            }
            int start = _index;
            int take = Math.Min(N - start, destination.Length - i);
            ReadOnlySpan<uint> src = mt.AsSpan(start, take);
            Span<float> dst = destination.Slice(i, take);
            for (int k = 0; k < src.Length; k++) dst[k] = (int)(Temper(src[k]) & 0xFFFFFFu) * UniformScale;
            _index = start + take;
            i += take;
        }
        _offset += destination.Length;
    }

    // ------------------------------------------------------------------------------------------ serial path (< 16 elements)

    /// <summary>at::uniform_real_distribution&lt;double&gt;(0, 1): low 53 bits of random64() times 2^-53.</summary>
    private double NextUniformDouble()
    {
        uint hi = NextUInt32();
        uint lo = NextUInt32();
        ulong v = ((ulong)hi << 32) | lo;
        return (v & ((1UL << 53) - 1)) * (1.0 / 9007199254740992.0);
    }

    /// <summary>at::normal_distribution&lt;double&gt;(0, 1) with the generator's cached second sample.</summary>
    private double NextSerialNormal()
    {
        if (_nextDoubleNormal is double cached)
        {
            _nextDoubleNormal = null;
            return cached * 1.0 + 0.0; // transformation::normal(ret, mean, std)
        }
        double u1 = NextUniformDouble();
        double u2 = NextUniformDouble();
        double r = Math.Sqrt(-2.0 * Log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        _nextDoubleNormal = r * Math.Sin(theta);
        double ret = r * Math.Cos(theta);
        return ret * 1.0 + 0.0;
    }

    /// <summary>
    /// log(1 + x), a port of glibc's sysdeps/ieee754/dbl-64/s_log1p.c (fdlibm, Sun Microsystems 1993:
    /// "Permission to use, copy, modify, and distribute this software is freely granted, provided that this
    /// notice is preserved."), so the serial path does not depend on the runtime's math library.
    /// </summary>
    internal static double Log1p(double x)
    {
        const double Ln2Hi = 6.93147180369123816490e-01; // 3fe62e42 fee00000
        const double Ln2Lo = 1.90821492927058770002e-10; // 3dea39ef 35793c76
        const double Lp1 = 6.666666666666735130e-01;
        const double Lp2 = 3.999999999940941908e-01;
        const double Lp3 = 2.857142874366239149e-01;
        const double Lp4 = 2.222219843214978396e-01;
        const double Lp5 = 1.818357216161805012e-01;
        const double Lp6 = 1.531383769920937332e-01;
        const double Lp7 = 1.479819860511658591e-01;

        int hx = HighWord(x);
        int ax = hx & 0x7fffffff;
        int k = 1, hu = 0;
        double f = 0, c = 0;

        if (hx < 0x3FDA827A) // x < 0.41422
        {
            if (ax >= 0x3ff00000) return x == -1.0 ? double.NegativeInfinity : double.NaN; // x <= -1
            if (ax < 0x3e200000) // |x| < 2^-29
            {
                return ax < 0x3c900000 ? x : x - x * x * 0.5;
            }
            if (hx > 0 || hx <= unchecked((int)0xbfd2bec3))
            {
                k = 0; f = x; hu = 1; // -0.2929 < x < 0.41422
            }
        }
        else if (hx >= 0x7ff00000)
        {
            return x + x;
        }

        if (k != 0)
        {
            double u;
            if (hx < 0x43400000)
            {
                u = 1.0 + x;
                hu = HighWord(u);
                k = (hu >> 20) - 1023;
                c = k > 0 ? 1.0 - (u - x) : x - (u - 1.0); // correction term
                c /= u;
            }
            else
            {
                u = x;
                hu = HighWord(u);
                k = (hu >> 20) - 1023;
                c = 0;
            }
            hu &= 0x000fffff;
            if (hu < 0x6a09e)
            {
                u = WithHighWord(u, hu | 0x3ff00000); // normalize u
            }
            else
            {
                k += 1;
                u = WithHighWord(u, hu | 0x3fe00000); // normalize u/2
                hu = (0x00100000 - hu) >> 2;
            }
            f = u - 1.0;
        }

        double hfsq = 0.5 * f * f;
        double r;
        if (hu == 0) // |f| < 2^-20
        {
            if (f == 0.0)
            {
                if (k == 0) return 0.0;
                c += k * Ln2Lo;
                return k * Ln2Hi + c;
            }
            r = hfsq * (1.0 - 0.66666666666666666 * f);
            return k == 0 ? f - r : k * Ln2Hi - ((r - (k * Ln2Lo + c)) - f);
        }
        double s = f / (2.0 + f);
        double z = s * s;
        double r1 = z * Lp1; double z2 = z * z;
        double r2 = Lp2 + z * Lp3; double z4 = z2 * z2;
        double r3 = Lp4 + z * Lp5; double z6 = z4 * z2;
        double r4 = Lp6 + z * Lp7;
        r = r1 + z2 * r2 + z4 * r3 + z6 * r4;
        if (k == 0) return f - (hfsq - s * (hfsq + r));
        return k * Ln2Hi - ((hfsq - (s * (hfsq + r) + (k * Ln2Lo + c))) - f);

        static int HighWord(double d) => (int)(BitConverter.DoubleToUInt64Bits(d) >> 32);
        static double WithHighWord(double d, int high) =>
            BitConverter.UInt64BitsToDouble(((ulong)(uint)high << 32) | (BitConverter.DoubleToUInt64Bits(d) & 0xFFFFFFFFUL));
    }

    // ------------------------------------------------------------------------------------------ Box–Muller (normal_fill_16_AVX2)

    // Constants of avx_mathfun.h. C++ initialises these float arrays from double literals, so they are
    // converted double -> float here too (a float literal could round differently).
    private const float TwoPi = (float)(2.0 * Math.PI); // _mm256_set1_ps(2.0f * c10::pi<double>)
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BoxMuller16(ref float data)
    {
        for (int j = 0; j < 8; j++)
        {
            ref float a = ref Unsafe.Add(ref data, j);
            ref float b = ref Unsafe.Add(ref data, j + 8);
            float u1 = 1.0f - a;            // [0, 1) -> (0, 1] for log
            float u2 = b;
            float radius = MathF.Sqrt(-2.0f * Log256(u1));
            SinCos256(TwoPi * u2, out float sin, out float cos);
            // _mm256_fmadd_ps(n, std = 1, mean = 0)
            a = MathF.FusedMultiplyAdd(radius * cos, 1.0f, 0.0f);
            b = MathF.FusedMultiplyAdd(radius * sin, 1.0f, 0.0f);
        }
    }

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

    // ------------------------------------------------------------------------------------------ vectorised Box–Muller
    //
    // Lane for lane the same IEEE operations, in the same order, as BoxMuller16 / Log256 / SinCos256 above:
    // add, sub, mul, sqrt and fused multiply-add are correctly rounded in every lane, int <-> float conversions of
    // the small values involved are exact, and the scalar selects (c ? v : 0) become and/andnot masks that
    // produce the same +0.0f. Only NaN inputs could differ (max_ps vs MathF.Max), and Box–Muller never sees one:
    // u1 is in [2^-24, 1] and u2 in [0, 1).

    /// <summary>Runs the Box–Muller transform in place on every block of 16 of <paramref name="data"/>
    /// (length a multiple of 16) with the given kernel.</summary>
    internal static void BoxMuller(Span<float> data, NormalKernel kernel)
    {
        if ((data.Length & 15) != 0) throw new ArgumentException("Length must be a multiple of 16.", nameof(data));
        if (!IsKernelSupported(kernel)) throw new PlatformNotSupportedException($"{kernel} is not supported here.");
        if (data.Length == 0) return;
        BoxMullerBlocks(ref MemoryMarshal.GetReference(data), data.Length >> 4, kernel);
    }

    private static void BoxMullerBlocks(ref float data, int blocks, NormalKernel kernel)
    {
        switch (kernel)
        {
            case NormalKernel.Vector256:
                for (int b = 0; b < blocks; b++) BoxMuller16Vector256(ref Unsafe.Add(ref data, b * 16));
                break;
            case NormalKernel.Vector128:
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
        Vector256<float> radius = Avx.Sqrt(Vector256.Create(-2.0f) * Log256(u1));
        SinCos256(Vector256.Create(TwoPi) * u2, out Vector256<float> sin, out Vector256<float> cos);
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
        Vector128<float> radius = Vector128.Sqrt(Vector128.Create(-2.0f) * Log256(u1));
        SinCos256(Vector128.Create(TwoPi) * u2, out Vector128<float> sin, out Vector128<float> cos);
        FusedMultiplyAdd(radius * cos, one, Vector128<float>.Zero).StoreUnsafe(ref data);
        FusedMultiplyAdd(radius * sin, one, Vector128<float>.Zero).StoreUnsafe(ref data, 8);
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
    private static Vector128<float> FusedMultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c)
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
