using Wuerstchen.Core;
using Xunit;

namespace Wuerstchen.Core.Tests;

public class ImageSizeTests
{
    // reference §9.1
    [Theory]
    [InlineData(512, 12, 128)]
    [InlineData(768, 18, 192)]
    [InlineData(1024, 24, 256)]
    [InlineData(1152, 27, 288)]
    [InlineData(1536, 36, 384)]
    [InlineData(2048, 48, 512)]
    public void LatentSizesFollowTheReferenceTable(int pixels, int prior, int decoder)
    {
        var s = ImageSize.Compute(pixels, pixels, ModelConfig.Default);
        Assert.Equal(prior, s.PriorHeight);
        Assert.Equal(prior, s.PriorWidth);
        Assert.Equal(decoder, s.DecoderHeight);
        Assert.Equal(pixels, s.OutputHeight);
    }

    [Fact]
    public void EveryValidSizeDecodesToItself()
    {
        for (int v = ImageSize.Min; v <= ImageSize.Max; v += ImageSize.Step)
        {
            var s = ImageSize.Compute(v, ImageSize.Min, ModelConfig.Default);
            Assert.Equal(v, s.OutputWidth);
            Assert.Equal(0, s.DecoderWidth % 32);
            Assert.Equal(s, ImageSize.FromPrior(s.PriorWidth, s.PriorHeight, ModelConfig.Default));
        }
    }

    [Theory]
    [InlineData(1000, "896", "1024")]
    [InlineData(800, "768", "896")]
    [InlineData(960, "896", "1024")]
    public void OffStepSizesNameTheNearestValidSizes(int value, string lower, string upper)
    {
        var ex = Assert.Throws<WuerstchenException>(() => ImageSize.Compute(value, 1024, ModelConfig.Default));
        Assert.Equal("InvalidImageSize", ex.ErrorId);
        Assert.Equal(WuerstchenErrorKind.InvalidArgument, ex.Kind);
        Assert.Equal(value, ex.Target);
        Assert.Contains(value.ToString(), ex.Message);
        Assert.Contains(lower, ex.Message);
        Assert.Contains(upper, ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-128)]
    [InlineData(64)]
    [InlineData(4224)]
    [InlineData(int.MaxValue)]
    public void OutOfRangeSizesAreRejected(int value)
    {
        var ex = Assert.Throws<WuerstchenException>(() => ImageSize.Compute(1024, value, ModelConfig.Default));
        Assert.Equal("InvalidImageSize", ex.ErrorId);
        Assert.Contains("Height", ex.Message);
    }
}
