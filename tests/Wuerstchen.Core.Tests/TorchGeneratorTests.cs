using System.Runtime.Intrinsics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Wuerstchen.Core.Noise;
using Xunit;

namespace Wuerstchen.Core.Tests;

public class TorchGeneratorTests
{
    // ------------------------------------------------------------------ reference vectors (torch on x86-64 Linux)

    private sealed record RngDraw(
        [property: JsonPropertyName("shape")] int[] Shape,
        [property: JsonPropertyName("count")] int Count,
        [property: JsonPropertyName("first")] double[] First,
        [property: JsonPropertyName("last")] double[] Last,
        [property: JsonPropertyName("sum")] double Sum,
        [property: JsonPropertyName("sum_sq")] double SumSq);

    private sealed record RngEntry(
        [property: JsonPropertyName("seed")] ulong Seed,
        [property: JsonPropertyName("draws")] RngDraw[] Draws);

    private static readonly Lazy<RngEntry[]> Vectors = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "data", "rng-vectors.json");
        return JsonSerializer.Deserialize<RngEntry[]>(File.ReadAllText(path))
            ?? throw new InvalidDataException($"Could not read {path}");
    });

    public static IEnumerable<object[]> VectorCases()
    {
        RngEntry[] entries = Vectors.Value;
        for (int e = 0; e < entries.Length; e++)
            for (int d = 0; d < entries[e].Draws.Length; d++)
                yield return new object[] { e, d };
    }

    /// <summary>Replays the draws of one entry up to and including <paramref name="drawIndex"/>.</summary>
    private static (float[] Values, TorchGenerator Generator, long ExpectedOffset) Replay(RngEntry entry, int drawIndex)
    {
        var g = new TorchGenerator(entry.Seed);
        float[] values = Array.Empty<float>();
        long offset = 0;
        for (int d = 0; d <= drawIndex; d++)
        {
            values = g.Randn(entry.Draws[d].Count);
            offset += TorchGenerator.WordsForRandn(entry.Draws[d].Count);
        }
        return (values, g, offset);
    }

    [Fact]
    public void ReferenceFileCoversTheInterestingCases()
    {
        RngEntry[] entries = Vectors.Value;
        Assert.NotEmpty(entries);
        var counts = entries.SelectMany(e => e.Draws).Select(d => d.Count).ToArray();
        Assert.Contains(counts, c => c % 16 != 0); // a recomputed tail
        Assert.Contains(counts, c => c >= 100_000);
        Assert.Contains(entries, e => e.Draws.Length > 1); // consecutive draws from one generator
    }

    [Theory]
    [MemberData(nameof(VectorCases))]
    public void Randn_MatchesTorchReferenceVector(int entryIndex, int drawIndex)
    {
        RngEntry entry = Vectors.Value[entryIndex];
        RngDraw draw = entry.Draws[drawIndex];
        Assert.Equal(draw.Count, draw.Shape.Aggregate(1, (a, b) => a * b));

        var (values, g, expectedOffset) = Replay(entry, drawIndex);

        Assert.Equal(draw.Count, values.Length);
        for (int i = 0; i < draw.First.Length; i++)
            Assert.True(Math.Abs(values[i] - draw.First[i]) <= 1e-6,
                $"seed {entry.Seed} draw {drawIndex} first[{i}]: expected {draw.First[i]:R}, got {values[i]:R}");
        for (int i = 0; i < draw.Last.Length; i++)
        {
            int at = draw.Count - draw.Last.Length + i;
            Assert.True(Math.Abs(values[at] - draw.Last[i]) <= 1e-6,
                $"seed {entry.Seed} draw {drawIndex} [{at}]: expected {draw.Last[i]:R}, got {values[at]:R}");
        }

        double sum = 0, sumSq = 0;
        foreach (float v in values) { sum += v; sumSq += (double)v * v; }
        Assert.True(Math.Abs(sum - draw.Sum) <= 1e-6 * Math.Max(1.0, Math.Abs(draw.Sum)), $"sum {sum:R} vs {draw.Sum:R}");
        Assert.True(Math.Abs(sumSq - draw.SumSq) <= 1e-6 * Math.Max(1.0, draw.SumSq), $"sum_sq {sumSq:R} vs {draw.SumSq:R}");

        Assert.Equal(expectedOffset, g.Offset);
    }

    [Fact]
    public void Randn_ReproducesReferenceVectorsBitExactly()
    {
        int compared = 0;
        var mismatches = new List<string>();
        foreach (RngEntry entry in Vectors.Value)
        {
            var g = new TorchGenerator(entry.Seed);
            foreach (RngDraw draw in entry.Draws)
            {
                float[] values = g.Randn(draw.Count);
                for (int i = 0; i < draw.First.Length; i++, compared++)
                    if (BitConverter.SingleToInt32Bits(values[i]) != BitConverter.SingleToInt32Bits((float)draw.First[i]))
                        mismatches.Add($"seed {entry.Seed} count {draw.Count} [{i}]");
                for (int i = 0; i < draw.Last.Length; i++, compared++)
                {
                    int at = draw.Count - draw.Last.Length + i;
                    if (BitConverter.SingleToInt32Bits(values[at]) != BitConverter.SingleToInt32Bits((float)draw.Last[i]))
                        mismatches.Add($"seed {entry.Seed} count {draw.Count} [{at}]");
                }

                // The reference sums are exact double sums of the float values, so they work as a checksum of
                // the whole tensor: a single element off by one ulp (>= ~1e-9 here) shows up.
                double sum = 0, sumSq = 0;
                foreach (float v in values) { sum += v; sumSq += (double)v * v; }
                if (Math.Abs(sum - draw.Sum) > 1e-9 * Math.Max(1.0, Math.Abs(draw.Sum)))
                    mismatches.Add($"seed {entry.Seed} count {draw.Count} sum {sum:R} != {draw.Sum:R}");
                if (Math.Abs(sumSq - draw.SumSq) > 1e-11 * Math.Max(1.0, draw.SumSq))
                    mismatches.Add($"seed {entry.Seed} count {draw.Count} sum_sq {sumSq:R} != {draw.SumSq:R}");
            }
        }
        Assert.True(compared > 0);
        Assert.True(mismatches.Count == 0, "Not bit-exact at: " + string.Join(", ", mismatches));
    }

    // ------------------------------------------------------------------ mt19937

    [Theory]
    [InlineData(5489UL, 3499211612u)]
    [InlineData(0UL, 2357136044u)]
    public void NextUInt32_FirstOutputMatchesStdMt19937(ulong seed, uint expected)
    {
        var g = new TorchGenerator(seed);
        Assert.Equal(expected, g.NextUInt32());
        Assert.Equal(1, g.Offset);
    }

    [Fact]
    public void TenThousandthOutputMatchesCppStandardRequirement()
    {
        // [rand.predef]: the 10000th invocation of a default-constructed std::mt19937 yields 4123659995.
        var drawn = new TorchGenerator(5489);
        uint value = 0;
        for (int i = 0; i < 10000; i++) value = drawn.NextUInt32();
        Assert.Equal(4123659995u, value);

        var skipped = new TorchGenerator(5489);
        skipped.Skip(9999);
        Assert.Equal(9999, skipped.Offset);
        Assert.Equal(4123659995u, skipped.NextUInt32());
    }

    [Fact]
    public void Seed_IsTakenModulo2Pow32()
    {
        const ulong big = (1UL << 32) + 5;
        var a = new TorchGenerator(big);
        var b = new TorchGenerator(5);
        Assert.Equal(big, a.Seed); // initial_seed() keeps the full value
        for (int i = 0; i < 1000; i++) Assert.Equal(b.NextUInt32(), a.NextUInt32());
        Assert.Equal(b.Randn(100), a.Randn(100));
        Assert.Equal(b.Randn(3), a.Randn(3));

        Assert.NotEqual(new TorchGenerator(6).NextUInt32(), new TorchGenerator(big).NextUInt32());
    }

    [Fact]
    public void SameSeedIsDeterministic_DifferentSeedsDiffer()
    {
        float[] a = new TorchGenerator(1234).Randn(4096 + 5);
        float[] b = new TorchGenerator(1234).Randn(4096 + 5);
        float[] c = new TorchGenerator(1235).Randn(4096 + 5);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.All(a, v => Assert.True(float.IsFinite(v)));
    }

    // ------------------------------------------------------------------ serial path (< 16 elements)

    [Fact]
    public void SerialPath_MatchesPublishedTorchValues()
    {
        // torch.manual_seed(0); torch.randn(6) / torch.manual_seed(42); torch.randn(2, 3) as printed by torch.
        double[] seed0 = { 1.5410, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986 };
        double[] seed42 = { 0.3367, 0.1288, 0.2345, 0.2303, -1.1229, -0.1863 };
        float[] a = new TorchGenerator(0).Randn(6);
        float[] b = new TorchGenerator(42).Randn(6);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(seed0[i], a[i], 0.00006);
            Assert.Equal(seed42[i], b[i], 0.00006);
        }
    }

    [Fact]
    public void SerialPath_TwoSingleDrawsShareOneBoxMullerPair()
    {
        float[] pair = new TorchGenerator(7).Randn(2);

        var g = new TorchGenerator(7);
        float first = g.Randn(1)[0];
        Assert.Equal(4, g.Offset); // two random64() calls
        Assert.NotNull(g.State.NextDoubleNormal); // r * sin(theta) cached in the generator

        float second = g.Randn(1)[0];
        Assert.Equal(4, g.Offset); // served from the cache, nothing consumed
        Assert.Null(g.State.NextDoubleNormal);

        Assert.Equal(pair[0], first);
        Assert.Equal(pair[1], second);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void SerialCache_IsIgnoredByLargeDrawsAndUsedByTheNextSmallOne()
    {
        float[] four = new TorchGenerator(99).Randn(4);

        var g = new TorchGenerator(99);
        g.Randn(3); // 2 pairs, 8 words, 4th sample cached
        Assert.Equal(8, g.Offset);
        double? cached = g.State.NextDoubleNormal;
        Assert.NotNull(cached);

        float[] big = g.Randn(32); // vectorised path: neither reads nor clears the cache
        Assert.Equal(8 + 32, g.Offset);
        Assert.Equal(cached, g.State.NextDoubleNormal);

        var reference = new TorchGenerator(99);
        reference.Skip(8);
        Assert.Equal(reference.Randn(32), big);

        float next = g.Randn(1)[0];
        Assert.Equal(four[3], next);
        Assert.Equal((float)cached!.Value, next);
        Assert.Equal(40, g.Offset);
    }

    [Fact]
    public void Log1p_IsAccurate()
    {
        Assert.Equal(0.0, Fdlibm.Log1p(0.0));
        Assert.Equal(Math.Log(0.5), Fdlibm.Log1p(-0.5), 1e-16);
        Assert.Equal(double.NegativeInfinity, Fdlibm.Log1p(-1.0));
        Assert.True(double.IsNaN(Fdlibm.Log1p(-2.0)));
        Assert.Equal(1e-12 - 0.5e-24, Fdlibm.Log1p(1e-12), 4e-28); // where log(1 + x) loses digits
        Assert.Equal(-1e-9 - 0.5e-18, Fdlibm.Log1p(-1e-9), 4e-25);
        var rng = new Random(3);
        for (int i = 0; i < 10000; i++)
        {
            // the serial path's domain is log1p(-u2), u2 in [0, 1); for x <= -0.5, 1 + x is exact (Sterbenz)
            double x = -0.5 - 0.5 * rng.NextDouble();
            double expected = Math.Log(1.0 + x);
            Assert.True(Math.Abs(Fdlibm.Log1p(x) - expected) <= 4e-16 * Math.Abs(expected), $"x = {x:R}");
        }
    }

    // ------------------------------------------------------------------ vectorised path structure

    [Fact]
    public void VectorPath_TailIsRecomputedFromSixteenFreshUniforms()
    {
        const ulong seed = 2024;
        float[] v37 = new TorchGenerator(seed).Randn(37);

        // blocks [0,16) and [16,32) use the first 32 uniforms ...
        float[] v16 = new TorchGenerator(seed).Randn(16);
        float[] v32 = new TorchGenerator(seed).Randn(32);
        Assert.Equal(v16, v37[..16]);
        Assert.Equal(v32[16..21], v37[16..21]);

        // ... and [21, 37) is one Box–Muller block of the 16 uniforms after the 37 consumed ones.
        var afterFill = new TorchGenerator(seed);
        afterFill.Skip(37);
        Assert.Equal(afterFill.Randn(16), v37[21..]);

        Assert.NotEqual(v32[21..32], v37[21..32]); // the first fill's values there were overwritten
    }

    [Theory]
    [InlineData(0L, 0L)]
    [InlineData(1L, 4L)]
    [InlineData(2L, 4L)]
    [InlineData(3L, 8L)]
    [InlineData(15L, 32L)]
    [InlineData(16L, 16L)]
    [InlineData(17L, 33L)]
    [InlineData(37L, 53L)]
    [InlineData(512L, 512L)]
    [InlineData(9216L, 9216L)]
    [InlineData(262144L, 262144L)]
    [InlineData(262145L, 262161L)]
    public void WordsForRandn_KnownValues(long count, long words)
    {
        Assert.Equal(words, TorchGenerator.WordsForRandn(count));
    }

    [Fact]
    public void WordsForRandn_AgreesWithActualConsumption()
    {
        for (int count = 0; count <= 100; count++)
        {
            var g = new TorchGenerator((ulong)count);
            g.Randn(count);
            Assert.Equal(TorchGenerator.WordsForRandn(count), g.Offset);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchGenerator.WordsForRandn(-1));
    }

    [Fact]
    public void Randn_ZeroElementsConsumesNothing()
    {
        var g = new TorchGenerator(1);
        g.Randn(Span<float>.Empty);
        Assert.Empty(g.Randn(0));
        Assert.Equal(0, g.Offset);
        Assert.Equal(new TorchGenerator(1).NextUInt32(), g.NextUInt32());
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Randn(-1));
    }

    [Fact]
    public void RandnSpan_EqualsArrayOverloadAndDoesNotAllocate()
    {
        var buffer = new float[1000];
        var g = new TorchGenerator(5);
        g.Randn(buffer); // warm up (JIT)
        g.Randn(buffer.AsSpan(0, 3));

        var h = new TorchGenerator(5);
        h.Randn(buffer.Length);
        h.Randn(3);
        float[] expectedLarge = h.Randn(buffer.Length);
        float[] expectedSmall = h.Randn(3);

        long before = GC.GetAllocatedBytesForCurrentThread();
        g.Randn(buffer);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(expectedLarge, buffer);

        before = GC.GetAllocatedBytesForCurrentThread();
        g.Randn(buffer.AsSpan(0, 3));
        allocated += GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(expectedSmall, buffer[..3]);

        Assert.Equal(0, allocated);
        Assert.Equal(h.State, g.State);
    }

    // ------------------------------------------------------------------ fast path vs the scalar reference

    /// <summary>Kernel names (the enum is internal, so theory parameters are strings).</summary>
    public static IEnumerable<object[]> SupportedKernels() =>
        Enum.GetValues<TorchGenerator.NormalKernel>()
            .Where(TorchGenerator.IsKernelSupported)
            .Select(k => new object[] { k.ToString() });

    private static void AssertBitsEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            int e = BitConverter.SingleToInt32Bits(expected[i]), a = BitConverter.SingleToInt32Bits(actual[i]);
            if (e != a)
                Assert.Fail($"{what}: first difference at [{i}] of {expected.Length}: expected {expected[i]:R} (0x{e:X8}), got {actual[i]:R} (0x{a:X8})");
        }
    }

    [Fact]
    public void BestKernel_IsSupported_AndScalarAlwaysIs()
    {
        Assert.True(TorchGenerator.IsKernelSupported(TorchGenerator.BestKernel));
        Assert.True(TorchGenerator.IsKernelSupported(TorchGenerator.NormalKernel.Scalar));
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported)
            Assert.Equal(TorchGenerator.NormalKernel.Vector256, TorchGenerator.BestKernel);
    }

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

    [Theory]
    [MemberData(nameof(SupportedKernels))]
    public void BoxMullerKernel_MatchesScalarPortForAllUniforms(string kernelName)
    {
        var kernel = Enum.Parse<TorchGenerator.NormalKernel>(kernelName);
        // All 2^24 possible uniforms in both roles (data[j] -> u1, data[j + 8] -> u2), paired two different ways,
        // i.e. 2^25 (u1, u2) pairs through the whole kernel, including the final r * cos / r * sin and fmadd.
        const int Count = 1 << 24;
        const int ChunkPairs = 1 << 16;
        var expected = new float[2 * ChunkPairs];
        var actual = new float[2 * ChunkPairs];
        foreach (uint multiplier in new[] { 1u, 0x9E3779B1u })
        {
            for (int start = 0; start < Count; start += ChunkPairs)
            {
                for (int p = 0; p < ChunkPairs; p++)
                {
                    uint k1 = (uint)(start + p);
                    uint k2 = (k1 * multiplier + 12345u * (multiplier - 1)) & 0xFFFFFFu; // a bijection of [0, 2^24)
                    int block = p >> 3, lane = p & 7;
                    expected[block * 16 + lane] = k1 * (1.0f / 16777216.0f);
                    expected[block * 16 + lane + 8] = k2 * (1.0f / 16777216.0f);
                }
                expected.AsSpan().CopyTo(actual);
                BoxMullerKernels.BoxMuller(expected, TorchGenerator.NormalKernel.Scalar);
                BoxMullerKernels.BoxMuller(actual, kernel);
                AssertBitsEqual(expected, actual, $"{kernel}, multiplier {multiplier:X}, pairs from {start}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(SupportedKernels))]
    public void BoxMullerKernel_HandlesTheEdgeUniforms(string kernelName)
    {
        var kernel = Enum.Parse<TorchGenerator.NormalKernel>(kernelName);
        float[] edges = { 0.0f, 1.0f / 16777216.0f, 0.125f, 0.25f, 0.375f, 0.5f, 0.625f, 0.75f, 0.875f, 1.0f - 1.0f / 16777216.0f };
        var expected = new float[16 * edges.Length * edges.Length];
        int at = 0;
        foreach (float a in edges)
            foreach (float b in edges)
            {
                for (int lane = 0; lane < 8; lane++) { expected[at + lane] = a; expected[at + lane + 8] = b; }
                at += 16;
            }
        float[] actual = (float[])expected.Clone();
        BoxMullerKernels.BoxMuller(expected, TorchGenerator.NormalKernel.Scalar);
        BoxMullerKernels.BoxMuller(actual, kernel);
        AssertBitsEqual(expected, actual, kernel.ToString());
        Assert.All(actual, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void VectorisedTwist_MatchesScalarTwist()
    {
        var rng = new Random(12345);
        for (int trial = 0; trial < 20; trial++)
        {
            var scalar = new uint[624];
            for (int i = 0; i < scalar.Length; i++) scalar[i] = (uint)rng.NextInt64(0, 1L << 32);
            uint[] v128 = (uint[])scalar.Clone(), v256 = (uint[])scalar.Clone();
            for (int twist = 0; twist < 200; twist++)
            {
                Mt19937.TwistScalar(scalar);
                Mt19937.TwistVector128(v128);
                Mt19937.TwistVector256(v256); // software fallback where not accelerated: still exact
                Assert.Equal(scalar, v128);
                Assert.Equal(scalar, v256);
            }
        }
    }

    [Theory]
    [MemberData(nameof(SupportedKernels))]
    public void Randn_MatchesScalarReferenceOverManyMillionValues(string kernelName)
    {
        var kernel = Enum.Parse<TorchGenerator.NormalKernel>(kernelName);
        // Random seeds; sizes around block (16), state (624) and vector boundaries, with and without a tail,
        // up to 10^6; consecutive draws, a misaligned stream (NextUInt32) and serial draws in between.
        int[] fixedSizes =
        {
            16, 17, 23, 31, 32, 33, 47, 48, 63, 64, 65, 100, 255, 256, 257, 623, 624, 625, 640, 1247, 1248, 1249,
            4096 + 5, 9216, 65536, 65537, 100_003, 262_144, 262_145, 999_999, 1_000_000,
        };
        var rng = new Random(20240601 + (int)kernel);
        var sizes = new List<int>(fixedSizes);
        for (int i = 0; i < 60; i++) sizes.Add(16 + rng.Next(rng.Next(2) == 0 ? 5000 : 300_000));
        int maxSize = sizes.Max();
        var expected = new float[maxSize];
        var actual = new float[maxSize];
        long values = 0;
        for (int s = 0; s < sizes.Count; s++)
        {
            ulong seed = (ulong)rng.NextInt64();
            var reference = new TorchGenerator(seed);
            var fast = new TorchGenerator(seed);
            int skip = rng.Next(700);
            for (int i = 0; i < skip; i++) Assert.Equal(reference.NextUInt32(), fast.NextUInt32());
            foreach (int size in new[] { sizes[s], 16 + rng.Next(2000), 3, sizes[(s + 7) % sizes.Count] })
            {
                Span<float> e = expected.AsSpan(0, size), a = actual.AsSpan(0, size);
                reference.RandnReference(e);
                fast.RandnCore(a, kernel);
                AssertBitsEqual(e, a, $"{kernel}, seed {seed}, skip {skip}, size {size}");
                Assert.Equal(reference.State, fast.State);
                values += size;
            }
        }
        Assert.True(values > 10_000_000, $"only {values} values compared");

        // and the public entry point is the best kernel
        var g = new TorchGenerator(5);
        var h = new TorchGenerator(5);
        g.Randn(actual.AsSpan(0, 12345));
        h.RandnReference(expected.AsSpan(0, 12345));
        AssertBitsEqual(expected.AsSpan(0, 12345), actual.AsSpan(0, 12345), "Randn");
    }

    // ------------------------------------------------------------------ state, skip, continuation

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(623L)]
    [InlineData(624L)]
    [InlineData(625L)]
    [InlineData(1249L)]
    [InlineData(3_000_017L)]
    public void Skip_EqualsDrawingTheSameNumberOfOutputs(long count)
    {
        var drawn = new TorchGenerator(11);
        for (long i = 0; i < count; i++) drawn.NextUInt32();
        var skipped = new TorchGenerator(11);
        skipped.Skip(count);

        Assert.Equal(count, skipped.Offset);
        Assert.Equal(drawn.State, skipped.State);
        for (int i = 0; i < 700; i++) Assert.Equal(drawn.NextUInt32(), skipped.NextUInt32());
        Assert.Equal(drawn.Randn(50), skipped.Randn(50));
    }

    [Fact]
    public void Skip_InPiecesEqualsOneSkip()
    {
        var a = new TorchGenerator(8);
        a.Skip(10_000_000);
        var b = new TorchGenerator(8);
        b.NextUInt32();
        b.Skip(623);
        b.Skip(9_999_000);
        b.Skip(376);
        Assert.Equal(a.State, b.State);
        Assert.Equal(a.NextUInt32(), b.NextUInt32());
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Skip(-1));
    }

    [Fact]
    public void FromState_ContinuesExactlyLikeTheUninterruptedGenerator()
    {
        var original = new TorchGenerator(31337);
        original.Randn(37);
        original.Randn(5); // leaves a cached serial sample
        original.NextUInt32();
        GeneratorState state = original.State;
        Assert.Equal(31337UL, state.Seed);
        Assert.Equal(53 + 12 + 1, state.Offset);
        Assert.NotNull(state.NextDoubleNormal);

        TorchGenerator restored = TorchGenerator.FromState(state);
        Assert.Equal(state, restored.State);

        Assert.Equal(original.Randn(1), restored.Randn(1)); // the cached sample
        Assert.Equal(original.Randn(1000), restored.Randn(1000));
        Assert.Equal(original.Randn(7), restored.Randn(7));
        Assert.Equal(original.NextUInt32(), restored.NextUInt32());
        Assert.Equal(original.State, restored.State);

        // without the cache the next serial draw would be a different value
        TorchGenerator withoutCache = TorchGenerator.FromState(state with { NextDoubleNormal = null });
        var reference = TorchGenerator.FromState(state);
        Assert.NotEqual(reference.Randn(1), withoutCache.Randn(1));
    }

    [Fact]
    public void FromState_OfLargeDrawSequenceEqualsContinuation()
    {
        var uninterrupted = new TorchGenerator(77);
        uninterrupted.Randn(1 * 16 * 24 * 24);
        float[] expected = uninterrupted.Randn(1 * 16 * 24 * 24);

        var first = new TorchGenerator(77);
        first.Randn(1 * 16 * 24 * 24);
        float[] actual = TorchGenerator.FromState(first.State).Randn(1 * 16 * 24 * 24);
        Assert.Equal(expected, actual);

        float[] fromOffset = TorchGenerator.FromState(new GeneratorState(77, 9216, null)).Randn(9216);
        Assert.Equal(expected, fromOffset);
    }

    // ------------------------------------------------------------------ math kernels and distribution

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

    [Fact]
    public void Randn_HasStandardNormalMoments()
    {
        float[] v = new TorchGenerator(2).Randn(1 << 20);
        double mean = v.Average(x => (double)x);
        double variance = v.Average(x => ((double)x - mean) * ((double)x - mean));
        double within1 = v.Count(x => Math.Abs(x) < 1.0) / (double)v.Length;
        Assert.InRange(mean, -0.005, 0.005);
        Assert.InRange(variance, 0.99, 1.01);
        Assert.InRange(within1, 0.6807, 0.6847); // P(|Z| < 1) = 0.6827
    }
}
