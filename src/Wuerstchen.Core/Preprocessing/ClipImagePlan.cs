namespace Wuerstchen.Core.Preprocessing;

/// <summary>
/// One image's way through transformers' CLIPImageProcessor (image_processing_clip.py, image_transforms.py): resize
/// (PIL, on the uint8 image), centre crop, rescale, normalise, channels first. The source rows are fed one at a time
/// (<see cref="AddRow"/>), so a decoded image is read where it lies and never copied whole. Only the part of the
/// resized image the crop keeps is computed (see <see cref="ResampleAxis"/>).
/// </summary>
internal sealed class ClipImagePlan
{
    /// <summary>Largest output (pixels) when there is no centre crop to bound it: a 4096² crop's worth.</summary>
    public const long MaxOutputPixels = (long)ClipImageSettings.MaxSide * ClipImageSettings.MaxSide;

    private readonly ClipImageSettings settings;
    private readonly ResampleAxis? horizontal, vertical;
    private readonly int top, left, windowTop, windowLeft, windowHeight, windowWidth, sourceColumn;
    private readonly byte[] rows;

    private ClipImagePlan(ClipImageSettings settings, int width, int height)
    {
        this.settings = settings;
        var (rw, rh) = ResizedSize(width, height, settings);
        (OutputHeight, OutputWidth) = settings.DoCenterCrop ? (settings.CropHeight, settings.CropWidth) : (rh, rw);
        if ((long)OutputHeight * OutputWidth > MaxOutputPixels)
        {
            throw new WuerstchenException("ImageTooLarge", WuerstchenErrorKind.InvalidData,
                $"Without a centre crop, a {width}×{height} image gives CLIP pixel values of {rw}×{rh}; at most {MaxOutputPixels >> 20} megapixels are made.", (width, height));
        }

        // transformers' center_crop: top = (H − h) // 2 (floor division: negative where the image is smaller, and
        // the rows outside the image are zeros, as its padding makes them)
        top = settings.DoCenterCrop ? FloorHalf(rh - OutputHeight) : 0;
        left = settings.DoCenterCrop ? FloorHalf(rw - OutputWidth) : 0;
        windowTop = Math.Max(0, top);
        windowLeft = Math.Max(0, left);
        windowHeight = Math.Min(rh, top + OutputHeight) - windowTop;
        windowWidth = Math.Min(rw, left + OutputWidth) - windowLeft;

        // Pillow's need_horizontal / need_vertical: a pass runs only when that side changes (horizontal first)
        if (settings.DoResize && rw != width)
        {
            horizontal = ResampleAxis.Plan(width, rw, windowLeft, windowWidth, settings.Resample);
        }

        if (settings.DoResize && rh != height)
        {
            vertical = ResampleAxis.Plan(height, rh, windowTop, windowHeight, settings.Resample);
        }

        sourceColumn = horizontal?.First ?? windowLeft;
        FirstRow = vertical?.First ?? windowTop;
        RowCount = vertical?.Count ?? windowHeight;
        rows = new byte[checked(RowCount * windowWidth * 3)];
    }

    /// <summary>The first source row <see cref="AddRow"/> needs.</summary>
    public int FirstRow { get; }

    /// <summary>How many source rows, from <see cref="FirstRow"/> on, <see cref="AddRow"/> needs.</summary>
    public int RowCount { get; }

    public int OutputHeight { get; }

    public int OutputWidth { get; }

    public static ClipImagePlan Create(int width, int height, ClipImageSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        return new ClipImagePlan(settings, width, height);
    }

    /// <summary>
    /// transformers' size for the resize: the given height and width, or the shortest edge made
    /// <c>shortest_edge</c> and the other <c>int(s * long / short)</c> (Python's true division, truncated).
    /// </summary>
    public static (int Width, int Height) ResizedSize(int width, int height, ClipImageSettings settings)
    {
        if (!settings.DoResize)
        {
            return (width, height);
        }

        if (settings.ShortestEdge is not { } s)
        {
            return (settings.ResizeWidth!.Value, settings.ResizeHeight!.Value);
        }

        bool portrait = width <= height;
        var (shortSide, longSide) = portrait ? (width, height) : (height, width);
        int newLong = (int)((double)((long)s * longSide) / shortSide);
        return portrait ? (s, newLong) : (newLong, s);
    }

    /// <summary>Takes source row <paramref name="y"/> (RGB, 3 bytes a pixel, the whole row): its horizontal pass, or the window's columns.</summary>
    public void AddRow(int y, ReadOnlySpan<byte> row)
    {
        var destination = rows.AsSpan((y - FirstRow) * windowWidth * 3, windowWidth * 3);
        if (horizontal is not null)
        {
            horizontal.ResampleRow(row[(sourceColumn * 3)..], destination);
        }
        else
        {
            row.Slice(sourceColumn * 3, windowWidth * 3).CopyTo(destination);
        }
    }

    /// <summary>After every row: the vertical pass, then crop (zeros outside the image), rescale and normalise, channels first.</summary>
    public float[] Finish()
    {
        var window = vertical is not null ? vertical.ResampleColumns(rows, windowWidth * 3) : rows;
        var table = ValueTable(settings);
        int plane = OutputHeight * OutputWidth;
        var result = new float[3 * plane];
        for (int r = 0; r < OutputHeight; r++)
        {
            int wy = top + r - windowTop;
            for (int c = 0; c < OutputWidth; c++)
            {
                int wx = left + c - windowLeft;
                bool inside = wy >= 0 && wy < windowHeight && wx >= 0 && wx < windowWidth;
                int i = r * OutputWidth + c, p = (wy * windowWidth + wx) * 3;
                for (int ch = 0; ch < 3; ch++)
                {
                    result[ch * plane + i] = table[ch * 256 + (inside ? window[p + ch] : 0)];
                }
            }
        }

        return result;
    }

    /// <summary>
    /// The float every byte value becomes, per channel: transformers' rescale (the byte times the factor in float64,
    /// then float32) and normalize (float32: (x − mean) / std, numpy's one rounding per operation). A pure function
    /// of the byte, so a table of 3 × 256 gives each pixel the very same bits.
    /// </summary>
    public static float[] ValueTable(ClipImageSettings settings)
    {
        var table = new float[3 * 256];
        for (int ch = 0; ch < 3; ch++)
        {
            for (int v = 0; v < 256; v++)
            {
                float x = settings.DoRescale ? (float)(v * settings.RescaleFactor) : v;
                table[ch * 256 + v] = settings.DoNormalize ? (x - settings.Mean[ch]) / settings.Std[ch] : x;
            }
        }

        return table;
    }

    /// <summary>Python's (n // 2) for a possibly negative n.</summary>
    private static int FloorHalf(int n) => n >> 1;
}
