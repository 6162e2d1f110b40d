namespace Wuerstchen.Core.IO;

/// <summary>
/// The pixel size a user image is encoded at (image → embedding), and how much of the image the centre crop to
/// that size's aspect ratio removes. Only the choice of size lives here; the resize itself (cover, then centre crop,
/// as diffusers' training scripts prepare the effnet input) is <see cref="ImageLoader.LoadNormalized"/>'s.
/// </summary>
public readonly record struct ImageFit(int Width, int Height, double CroppedFraction)
{
    /// <summary>The area the Würstchen v2 networks were trained at (1024×1024).</summary>
    public const long TrainingArea = 1024L * 1024;

    /// <summary>Sizes whose area is within this factor of the training area are candidates for the default.</summary>
    public const double AreaTolerance = 1.25;

    /// <summary>
    /// A crop of more than this share of the image is worth a warning. Not lower: near 1024² the 128-pixel grid has
    /// no size between 8:9 and 1:1, so a near-square photo (say 1000×1060) loses up to 5.7 % whatever is chosen, and a
    /// warning the user cannot act on is noise. Every aspect ratio from 1:4 to 4:1 stays below it by default.
    /// </summary>
    public const double WarnCroppedFraction = 0.06;

    public bool CropsTooMuch => CroppedFraction > WarnCroppedFraction;

    /// <summary>
    /// The size for an image of <paramref name="imageWidth"/>×<paramref name="imageHeight"/>. Both sides given: those.
    /// One side given: the other from the image's aspect ratio, to the nearest 128-pixel step. Neither: among the
    /// 128-pixel-step sizes whose area is within 25 % of 1024², the one that crops least (then the one whose area is
    /// nearest 1024²) — 6000×4000 → 1152×768, 16:9 → 1408×768, a square → 1024×1024. Sizes outside the valid range
    /// are returned as given, for <see cref="ImageSize.Validate"/> to reject with its message.
    /// </summary>
    public static ImageFit Choose(int imageWidth, int imageHeight, int? width = null, int? height = null, long trainingArea = TrainingArea)
    {
        if (imageWidth < 1 || imageHeight < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(imageWidth), $"An image of {imageWidth}×{imageHeight} pixels has no size to fit.");
        }

        double aspect = (double)imageWidth / imageHeight;
        if (width is { } w && height is { } h)
        {
            return new ImageFit(w, h, CropFraction(aspect, w, h));
        }

        if (width is { } onlyWidth)
        {
            int other = Snap(onlyWidth / aspect);
            return new ImageFit(onlyWidth, other, CropFraction(aspect, onlyWidth, other));
        }

        if (height is { } onlyHeight)
        {
            int other = Snap(onlyHeight * aspect);
            return new ImageFit(other, onlyHeight, CropFraction(aspect, other, onlyHeight));
        }

        return Default(aspect, trainingArea);
    }

    /// <summary>The share of an image of aspect ratio <paramref name="aspect"/> (width / height) that covering width×height and centre-cropping removes.</summary>
    public static double CropFraction(double aspect, int width, int height)
    {
        if (width < 1 || height < 1)
        {
            return 0; // an invalid size: rejected later by ImageSize.Validate, with its own message
        }

        double target = (double)width / height;
        return 1 - Math.Min(target / aspect, aspect / target);
    }

    private static ImageFit Default(double aspect, long trainingArea)
    {
        ImageFit? best = null;
        double bestAreaDistance = double.MaxValue;
        for (int w = ImageSize.Min; w <= ImageSize.Max; w += ImageSize.Step)
        {
            for (int h = ImageSize.Min; h <= ImageSize.Max; h += ImageSize.Step)
            {
                double areaDistance = Math.Abs(Math.Log((double)w * h / trainingArea));
                if (areaDistance > Math.Log(AreaTolerance) + 1e-12)
                {
                    continue;
                }

                double crop = CropFraction(aspect, w, h);
                // 1e-9: equal crops (say 1152×768 and 1536×1024 for 3:2) are decided by the area, not by float noise
                if (best is null || crop < best.Value.CroppedFraction - 1e-9
                    || (crop < best.Value.CroppedFraction + 1e-9 && areaDistance < bestAreaDistance))
                {
                    best = new ImageFit(w, h, crop);
                    bestAreaDistance = areaDistance;
                }
            }
        }

        return best!.Value; // 1024×1024 is always a candidate
    }

    private static int Snap(double value) =>
        Math.Clamp((int)Math.Round(value / ImageSize.Step, MidpointRounding.AwayFromZero) * ImageSize.Step, ImageSize.Min, ImageSize.Max);
}
