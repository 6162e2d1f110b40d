using Wuerstchen.Core.Noise;
using Xunit;

namespace Wuerstchen.Core.Tests.Noise;

/// <summary>TorchGenerator.Randn: the serial (&lt; 16 elements) and vectorised paths, word counts, the distribution.</summary>
public class TorchGeneratorTests
{
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

    // ------------------------------------------------------------------ distribution

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
