using Wuerstchen.Core.Noise;
using Xunit;

namespace Wuerstchen.Core.Tests.Noise;

/// <summary>The mt19937 engine: std::mt19937 outputs, seeding and the vectorised twist.</summary>
public class Mt19937Tests
{
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
}
