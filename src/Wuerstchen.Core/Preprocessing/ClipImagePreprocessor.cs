using System.Runtime.InteropServices;
using SixLabors.ImageSharp.PixelFormats;
using Wuerstchen.Core.IO;

namespace Wuerstchen.Core.Preprocessing;

/// <summary>
/// transformers' <c>CLIPImageProcessor</c> as diffusers runs it on one image (Stable Cascade's feature_extractor before
/// its image_encoder), reproduced bit for bit: the same uint8 pixels give the same float32 <c>pixel_values</c>.
/// Steps: RGB (alpha dropped, not composited; gray replicated), resize with PIL's filter on the uint8 image (shortest
/// edge or a fixed size), centre crop (zero padding where the image is smaller), rescale (float64 then float32),
/// normalise (float32), channels first.
/// </summary>
public static class ClipImagePreprocessor
{
    /// <summary>
    /// The image file's <c>pixel_values</c>: [3, height, width] float32, channels first — [3, CropHeight, CropWidth]
    /// with the centre crop (<see cref="OutputSize"/> gives the shape in every case). Read with the module's bounded
    /// loader (<see cref="ImageLoader"/>: file size, header checked before decoding, one frame, truncation), which
    /// applies the EXIF orientation as diffusers' load_image does (PIL.ImageOps.exif_transpose).
    /// Errors: WuerstchenException ImageFileNotFound, ImageTooLarge, InvalidImageFile.
    /// </summary>
    public static float[] Load(string path, ClipImageSettings settings)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate(); // before the decode: a settings mistake is not the file's
        using var image = ImageLoader.LoadOriented(path);
        var plan = ClipImagePlan.Create(image.Width, image.Height, settings);
        image.ProcessPixelRows(rows =>
        {
            for (int y = plan.FirstRow; y < plan.FirstRow + plan.RowCount; y++)
            {
                plan.AddRow(y, MemoryMarshal.AsBytes(rows.GetRowSpan(y)));
            }
        });
        return plan.Finish();
    }

    /// <summary>
    /// The same from decoded RGB pixels: <paramref name="rgb"/> is <paramref name="width"/>×<paramref name="height"/>
    /// pixels, row-major, 3 bytes (R, G, B) a pixel. Sizes are bounded as the loader bounds a file's
    /// (WuerstchenException ImageTooLarge); a buffer of the wrong length is an ArgumentException.
    /// </summary>
    public static float[] Process(ReadOnlySpan<byte> rgb, int width, int height, ClipImageSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (width < 1 || height < 1 || width > ImageLoader.MaxSide || height > ImageLoader.MaxSide || (long)width * height > ImageLoader.MaxPixels)
        {
            throw new WuerstchenException("ImageTooLarge", WuerstchenErrorKind.InvalidData,
                $"An image of {width}×{height} pixels cannot be preprocessed; 1 to {ImageLoader.MaxSide} per side and at most {ImageLoader.MaxPixels >> 20} megapixels are.", (width, height));
        }

        if (rgb.Length != width * height * 3)
        {
            throw new ArgumentException($"{width}×{height} RGB pixels are {width * height * 3} bytes; the buffer has {rgb.Length}.", nameof(rgb));
        }

        var plan = ClipImagePlan.Create(width, height, settings);
        int stride = width * 3;
        for (int y = plan.FirstRow; y < plan.FirstRow + plan.RowCount; y++)
        {
            plan.AddRow(y, rgb.Slice(y * stride, stride));
        }

        return plan.Finish();
    }

    /// <summary>
    /// The (height, width) of the pixel values for an image of <paramref name="width"/>×<paramref name="height"/>:
    /// the crop size with the centre crop; otherwise the resized size (or the image's, without a resize).
    /// </summary>
    public static (int Height, int Width) OutputSize(int width, int height, ClipImageSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.DoCenterCrop)
        {
            return (settings.CropHeight, settings.CropWidth);
        }

        var (w, h) = ClipImagePlan.ResizedSize(width, height, settings);
        return (h, w);
    }
}
