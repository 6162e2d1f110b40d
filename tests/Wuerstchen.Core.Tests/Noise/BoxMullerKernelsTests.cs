using Wuerstchen.Core.Noise;
using Xunit;

namespace Wuerstchen.Core.Tests.Noise;

/// <summary>The vectorised Box–Muller kernels against the scalar port (fast path vs the scalar reference).</summary>
public class BoxMullerKernelsTests
{
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
}
