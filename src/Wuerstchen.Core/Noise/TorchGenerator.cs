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
    private const int N = Mt19937.N;

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
        return Mt19937.Temper(_mt[_index++]);
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
                BoxMullerKernels.Blocks(ref Unsafe.Add(ref data, transformed), (ready - transformed) >> 4, kernel);
                transformed = ready;
            }
        }
        _offset += n;

        if ((n & 15) != 0)
        {
            // torch recomputes the last 16 values from 16 fresh uniforms.
            Span<float> tail = destination.Slice(n - 16, 16);
            FillUniform(tail);
            BoxMullerKernels.Blocks(ref MemoryMarshal.GetReference(tail), 1, kernel);
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
        for (int i = 0; i < n - 15; i += 16) BoxMullerKernels.BoxMuller16(ref Unsafe.Add(ref data, i));
        if ((n & 15) != 0)
        {
            Span<float> tail = destination.Slice(n - 16, 16);
            FillUniformReference(tail);
            BoxMullerKernels.BoxMuller16(ref MemoryMarshal.GetReference(tail));
        }
    }

    // ------------------------------------------------------------------------------------------ mt19937 state

    private void Twist()
    {
        if (Vector256.IsHardwareAccelerated) Mt19937.TwistVector256(_mt);
        else if (Vector128.IsHardwareAccelerated) Mt19937.TwistVector128(_mt);
        else Mt19937.TwistScalar(_mt);
        _index = 0;
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
        for (; k < count; k++) Unsafe.Add(ref destination, k) = (int)(Mt19937.Temper(Unsafe.Add(ref source, k)) & 0xFFFFFFu) * UniformScale;
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
                Mt19937.TwistScalar(mt);
                _index = 0;
            }
            int start = _index;
            int take = Math.Min(N - start, destination.Length - i);
            ReadOnlySpan<uint> src = mt.AsSpan(start, take);
            Span<float> dst = destination.Slice(i, take);
            for (int k = 0; k < src.Length; k++) dst[k] = (int)(Mt19937.Temper(src[k]) & 0xFFFFFFu) * UniformScale;
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
        double r = Math.Sqrt(-2.0 * Fdlibm.Log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        _nextDoubleNormal = r * Math.Sin(theta);
        double ret = r * Math.Cos(theta);
        return ret * 1.0 + 0.0;
    }
}
