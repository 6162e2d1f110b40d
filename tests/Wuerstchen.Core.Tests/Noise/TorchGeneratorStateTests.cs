using Wuerstchen.Core.Noise;
using Xunit;

namespace Wuerstchen.Core.Tests.Noise;

/// <summary>TorchGenerator state: Skip, FromState and continuation.</summary>
public class TorchGeneratorStateTests
{
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
}
