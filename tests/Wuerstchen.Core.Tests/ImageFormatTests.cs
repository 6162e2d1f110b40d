using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Wuerstchen.Core.IO;
using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>The encode size of a user image (issue 9 point 6): aspect ratio kept, near the training area.</summary>
public class ImageFitTests
{
    [Theory]
    [InlineData(6000, 4000, 1152, 768)] // the photo: 4096×3968 before
    [InlineData(4000, 6000, 768, 1152)]
    [InlineData(300, 200, 1152, 768)] // small pictures are scaled up to the trained area
    [InlineData(1000, 1000, 1024, 1024)]
    [InlineData(1920, 1080, 1408, 768)] // 16:9: 3 % cropped
    [InlineData(4000, 3000, 1152, 896)] // 4:3: 3.6 % cropped
    [InlineData(200, 600, 640, 1920)]
    [InlineData(2000, 200, 3328, 384)] // 10:1 cannot be had near 1024²: the least crop in range (13 %)
    public void TheDefaultKeepsTheAspectRatioNearTheTrainingArea(int iw, int ih, int w, int h)
    {
        var fit = ImageFit.Choose(iw, ih);
        Assert.Equal((w, h), (fit.Width, fit.Height));
    }

    [Fact]
    public void EveryDefaultIsAValidSizeNearTheTrainingArea()
    {
        // photo aspect ratios from 1:4 to 4:1 lose at most 5.7 % (near-square ones), so the default never warns for them
        for (double aspect = 0.25; aspect <= 4.0; aspect += 0.01)
        {
            var fit = ImageFit.Choose((int)Math.Round(4000 * aspect), 4000);
            ImageSize.Validate(fit.Width, "Width");
            ImageSize.Validate(fit.Height, "Height");
            double area = (double)fit.Width * fit.Height / ImageFit.TrainingArea;
            Assert.InRange(area, 1 / ImageFit.AreaTolerance, ImageFit.AreaTolerance);
            Assert.False(fit.CropsTooMuch, $"aspect {aspect:0.00}: {fit}");
        }
    }

    [Fact]
    public void GivenSidesAreKeptAndTheMissingOneFollowsTheAspectRatio()
    {
        Assert.Equal(new ImageFit(1024, 1024, 1 - 1 / 1.5), ImageFit.Choose(600, 400, 1024, 1024));
        Assert.True(ImageFit.Choose(600, 400, 1024, 1024).CropsTooMuch);
        Assert.Equal((768, 512), (ImageFit.Choose(600, 400, 768, null).Width, ImageFit.Choose(600, 400, 768, null).Height));
        Assert.Equal((768, 512), (ImageFit.Choose(600, 400, null, 512).Width, ImageFit.Choose(600, 400, null, 512).Height));
        Assert.Equal(0, ImageFit.Choose(600, 400, 768, null).CroppedFraction, 9);
        // the derived side stays in range (a crop warning tells the rest)
        var thin = ImageFit.Choose(10000, 100, 4096, null);
        Assert.Equal((4096, 128), (thin.Width, thin.Height));
        Assert.True(thin.CropsTooMuch);
        // an invalid given size passes through for ImageSize.Validate's message
        Assert.Equal(1000, ImageFit.Choose(600, 400, 1000, null).Width);
    }

    [Fact]
    public void TheCropFractionIsTheShareTheCentreCropRemoves()
    {
        Assert.Equal(1 / 3.0, ImageFit.CropFraction(1.5, 1024, 1024), 9);
        Assert.Equal(1 / 3.0, ImageFit.CropFraction(1 / 1.5, 1024, 1024), 9);
        Assert.Equal(0, ImageFit.CropFraction(1.5, 1152, 768), 9);
        Assert.False(new ImageFit(1, 1, 0.06).CropsTooMuch);
        Assert.True(new ImageFit(1, 1, 0.0601).CropsTooMuch);
    }
}

/// <summary>The output format from the file name, and the parameters each format carries (issue 9 point 5).</summary>
public class ImageFileTests
{
    private static readonly KeyValuePair<string, string>[] Parameters =
    {
        new("prompt", "Würstchen 🌭 <über> & \"alles\""),
        new("negative_prompt", ""),
        new("seed", "42"),
        new("decoder_timesteps", "1,0.5,0"),
    };

    [Theory]
    [InlineData("out.png", ImageFileFormat.Png)]
    [InlineData("out.PNG", ImageFileFormat.Png)]
    [InlineData("out.jpg", ImageFileFormat.Jpeg)]
    [InlineData("dir.x/out.JPEG", ImageFileFormat.Jpeg)]
    [InlineData("out.webp", ImageFileFormat.WebP)]
    public void ASupportedExtensionNamesAFileInThatFormat(string path, ImageFileFormat format)
    {
        Assert.Equal(format, ImageFormats.ForOutputPath(path));
        Assert.Equal(format, ImageFormats.ForFile(path));
    }

    [Theory]
    [InlineData("renders")]
    [InlineData("out.jpg/sub")]
    public void OtherNamesAreFolders(string path) => Assert.Null(ImageFormats.ForOutputPath(path));

    [Theory]
    [InlineData("out.gif")]
    [InlineData("out.TIFF")]
    [InlineData("out.bmp")]
    [InlineData("out.jpgg")]
    [InlineData("run.v2")]
    public void AnotherImageExtensionIsUnsupportedImageFormat(string path)
    {
        var ex = Assert.Throws<WuerstchenException>(() => ImageFormats.ForOutputPath(path));
        Assert.Equal("UnsupportedImageFormat", ex.ErrorId);
        Assert.Equal(WuerstchenErrorKind.InvalidArgument, ex.Kind);
        Assert.Equal(path, ex.Target);
        Assert.Contains(".png, .jpg, .jpeg or .webp", ex.Message);
        Assert.Equal("UnsupportedImageFormat", Assert.Throws<WuerstchenException>(() => ImageFormats.ForFile("out.txt")).ErrorId);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(101)]
    public void TheQualityIsOneToHundred(int quality)
    {
        var ex = Assert.Throws<WuerstchenException>(() => ImageFormats.ValidateQuality(quality));
        Assert.Equal("InvalidQuality", ex.ErrorId);
        Assert.Equal(quality, ex.Target);
    }

    [Theory]
    [InlineData("a.png")]
    [InlineData("a.jpg")]
    [InlineData("a.webp")]
    public void EachFormatKeepsThePictureAndReadsBackTheParameters(string name)
    {
        using var tmp = new TempFolder();
        var path = tmp[name];
        var rgb = Gradient(64, 48);
        ImageFile.Save(path, false, rgb, 64, 48, Parameters);
        var back = ImageFile.ReadParameters(path);
        foreach (var (key, value) in Parameters)
        {
            Assert.Equal(value, back[key]);
        }

        Assert.Equal(Parameters.Length, back.Count);
        using var image = Image.Load<Rgb24>(path);
        Assert.Equal((64, 48), (image.Width, image.Height));
        var decoded = new byte[rgb.Length];
        image.CopyPixelDataTo(decoded);
        double meanError = rgb.Zip(decoded, (a, b) => Math.Abs(a - b)).Average();
        Assert.InRange(meanError, 0, name.EndsWith(".png") ? 0 : 4); // lossy at quality 90, but the same picture
        Assert.Empty(Directory.GetFiles(tmp.Path, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void TextXmlCannotHoldStillReadsBack()
    {
        using var tmp = new TempFolder();
        var path = tmp["odd.webp"];
        ImageFile.Save(path, false, Gradient(16, 16), 16, 16, new KeyValuePair<string, string>[] { new("prompt", "a\u0001b\ud800c 🦊") });
        Assert.Equal("a\ufffdb\ufffdc 🦊", ImageFile.ReadParameters(path)["prompt"]);
    }

    [Fact]
    public void ALowerQualityGivesASmallerFileAndABadOneWritesNothing()
    {
        using var tmp = new TempFolder();
        var rgb = Gradient(96, 96);
        ImageFile.Save(tmp["lo.jpg"], false, rgb, 96, 96, Parameters, quality: 10);
        ImageFile.Save(tmp["hi.jpg"], false, rgb, 96, 96, Parameters, quality: 100);
        Assert.True(new FileInfo(tmp["lo.jpg"]).Length < new FileInfo(tmp["hi.jpg"]).Length);
        Assert.Throws<WuerstchenException>(() => ImageFile.Save(tmp["bad.webp"], false, rgb, 96, 96, Parameters, quality: 0));
        Assert.Throws<WuerstchenException>(() => ImageFile.Save(tmp["bad.gif"], false, rgb, 96, 96, Parameters));
        Assert.Equal(2, Directory.GetFiles(tmp.Path).Length);
    }

    private static byte[] Gradient(int width, int height)
    {
        var rgb = new byte[width * height * 3];
        for (int i = 0; i < rgb.Length; i++)
        {
            int x = i / 3 % width, y = i / 3 / width;
            rgb[i] = (byte)((i % 3) switch { 0 => x * 255 / width, 1 => y * 255 / height, _ => 128 });
        }

        return rgb;
    }
}
