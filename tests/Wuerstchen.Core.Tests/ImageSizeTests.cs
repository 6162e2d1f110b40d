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

/// <summary>Stable Cascade's sizes: what diffusers' pipelines run (spec §9), from the contract's "sizes" rule.</summary>
public class StableCascadeImageSizeTests
{
    private static readonly ModelConfig Cascade = ModelConfig.For(ModelContract.Current.Families[ModelFamily.StableCascade]);

    // diffusers (realarch kit, StableCascadePriorPipeline + StableCascadeDecoderPipeline): 1000 → 1024, 1050 → 1064
    [Theory]
    [InlineData(1000, 24, 256, 1024)]
    [InlineData(1050, 25, 266, 1064)]
    [InlineData(280, 7, 74, 296)]
    [InlineData(1024, 24, 256, 1024)]
    public void OffGridSidesGiveTheSizeDiffusersGives(int side, int prior, int decoder, int output)
    {
        var s = ImageSize.Compute(side, 1024, Cascade);
        Assert.Equal((prior, decoder, output), (s.PriorWidth, s.DecoderWidth, s.OutputWidth));
    }

    [Fact]
    public void EveryStepOfTheV2GridIsValidAndExact()
    {
        for (int v = ImageSize.Min; v <= ImageSize.Max; v += ImageSize.Step)
        {
            Assert.Equal(v, ImageSize.Compute(v, v, Cascade).OutputWidth);
        }
    }

    // 1067: h = 26, H4 = floor(277.42) = 277, odd: diffusers' PixelUnshuffle(2) fails ("not divisible by 2")
    [Fact]
    public void AnOddDecoderLatentIsRefusedWithTheNearestValidSides()
    {
        var ex = Assert.Throws<WuerstchenException>(() => ImageSize.Compute(1067, 1024, Cascade));
        Assert.Equal("InvalidImageSize", ex.ErrorId);
        Assert.Equal(1067, ex.Target);
        Assert.Contains("decoder latent of 277", ex.Message);
        Assert.Contains("1066 or 1110", ex.Message);
        Assert.True(ImageSize.IsValid(1066, Cascade));
        Assert.True(ImageSize.IsValid(1110, Cascade));
        for (int v = 1067; v < 1110; v++)
        {
            Assert.False(ImageSize.IsValid(v, Cascade), $"{v}");
        }
    }

    [Fact]
    public void V2StillNeeds128PixelSteps()
    {
        Assert.False(ImageSize.IsValid(1000, ModelConfig.Default));
        Assert.Contains("896 or 1024", Assert.Throws<WuerstchenException>(() => ImageSize.Compute(1000, 1024, ModelConfig.Default)).Message);
    }
}
