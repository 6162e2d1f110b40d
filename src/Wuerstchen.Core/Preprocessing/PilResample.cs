namespace Wuerstchen.Core.Preprocessing;

/// <summary>
/// Pillow's resampling filters, numbered as PIL numbers them (<c>Image.Resampling</c>). transformers resizes with
/// <c>PIL.Image.resize</c> on the uint8 image, and CLIP's image embedding moves measurably when the resize is not
/// PIL's own (a float bicubic changes image_embeds by 2 %), so this reproduces Pillow's 8-bit algorithm exactly:
/// each filter is only a kernel and its support; the resampling around them is one code path.
/// </summary>
internal static class PilFilter
{
    public const int Nearest = 0;
    public const int Lanczos = 1;
    public const int Bilinear = 2;
    public const int Bicubic = 3;
    public const int Box = 4;
    public const int Hamming = 5;

    /// <summary>The filters reproduced, with their PIL names (for messages).</summary>
    public static readonly IReadOnlyDictionary<int, string> Supported = new Dictionary<int, string>
    {
        [Lanczos] = "LANCZOS", [Bilinear] = "BILINEAR", [Bicubic] = "BICUBIC", [Box] = "BOX", [Hamming] = "HAMMING",
    };

    /// <summary>
    /// The kernel and its support (in source pixels at scale 1). The arithmetic is written in Pillow's order of
    /// operations (double throughout, Hamming's float constants included): the coefficients are rounded to 22 bits
    /// afterwards, so a last-bit difference here can flip a coefficient and with it an output byte.
    /// </summary>
    public static (Func<double, double> Kernel, double Support) Of(int filter) => filter switch
    {
        Box => (BoxKernel, 0.5),
        Bilinear => (BilinearKernel, 1.0),
        Hamming => (HammingKernel, 1.0),
        Bicubic => (BicubicKernel, 2.0),
        Lanczos => (LanczosKernel, 3.0),
        _ => throw new ArgumentOutOfRangeException(nameof(filter), filter, "not a PIL filter reproduced here"),
    };

    private static double BoxKernel(double x) => x > -0.5 && x <= 0.5 ? 1.0 : 0.0;

    private static double BilinearKernel(double x)
    {
        x = Math.Abs(x);
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static double HammingKernel(double x)
    {
        x = Math.Abs(x);
        if (x == 0.0)
        {
            return 1.0;
        }

        if (x >= 1.0)
        {
            return 0.0;
        }

        x *= Math.PI;
        return Math.Sin(x) / x * (0.54f + 0.46f * Math.Cos(x)); // 0.54f, 0.46f: Pillow's float literals
    }

    /// <summary>Keys' cubic convolution with a = −0.5 (Pillow's choice).</summary>
    private static double BicubicKernel(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0)
        {
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        }

        if (x < 2.0)
        {
            return (((x - 5) * x + 8) * x - 4) * a;
        }

        return 0.0;
    }

    private static double Sinc(double x)
    {
        if (x == 0.0)
        {
            return 1.0;
        }

        x *= Math.PI;
        return Math.Sin(x) / x;
    }

    private static double LanczosKernel(double x) => -3.0 <= x && x < 3.0 ? Sinc(x) * Sinc(x / 3) : 0.0;
}

/// <summary>
/// One axis of Pillow's separable 8-bit resize (libImaging/Resample.c, read and re-implemented here): for each output
/// index the first source index, the number of taps and their weights in fixed point. Only a window of the output
/// is planned: each output pixel depends on its own weights alone, so computing just the part the centre crop keeps
/// gives the same bytes as resizing everything and cropping, without the full-size intermediate (a 1×16384 strip
/// with shortest edge 224 resizes to 224×3.7 million pixels).
/// </summary>
internal sealed class ResampleAxis
{
    /// <summary>Pillow's fixed point: 32 bits less 8 for the result and 2 for overshoot of negative lobes.</summary>
    public const int PrecisionBits = 32 - 8 - 2;

    private ResampleAxis(int first, int count, int taps, int[] start, int[] length, int[] weights)
    {
        First = first;
        Count = count;
        Taps = taps;
        Start = start;
        Length = length;
        Weights = weights;
    }

    /// <summary>The first source index any output of the window reads.</summary>
    public int First { get; }

    /// <summary>How many source indices from <see cref="First"/> the window reads.</summary>
    public int Count { get; }

    /// <summary>The stride of <see cref="Weights"/> per output (Pillow's ksize).</summary>
    public int Taps { get; }

    /// <summary>Per output of the window: its first source index, relative to <see cref="First"/>.</summary>
    public int[] Start { get; }

    /// <summary>Per output of the window: how many source indices it reads.</summary>
    public int[] Length { get; }

    /// <summary>Per output of the window, <see cref="Taps"/> weights scaled by 2^22 (rounded half away from zero).</summary>
    public int[] Weights { get; }

    /// <summary>
    /// Pillow's precompute_coeffs and normalize_coeffs_8bpc for outputs [<paramref name="from"/>,
    /// <paramref name="from"/> + <paramref name="count"/>) of a resize from <paramref name="inSize"/> to
    /// <paramref name="outSize"/> (the box is the whole image). Downscaling widens the kernel by the scale (Pillow's
    /// antialiasing); upscaling keeps it.
    /// </summary>
    public static ResampleAxis Plan(int inSize, int outSize, int from, int count, int filter)
    {
        var (kernel, baseSupport) = PilFilter.Of(filter);
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = baseSupport * filterScale;
        int taps = (int)Math.Ceiling(support) * 2 + 1;
        double invFilterScale = 1.0 / filterScale;
        var start = new int[count];
        var length = new int[count];
        var weights = new int[checked(count * taps)];
        var k = new double[taps];
        for (int i = 0; i < count; i++)
        {
            double center = (from + i + 0.5) * scale;
            int xmin = Math.Max((int)(center - support + 0.5), 0); // (int): truncation toward zero, as C's cast
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            double sum = 0.0;
            for (int x = 0; x < xmax; x++)
            {
                k[x] = kernel((x + xmin - center + 0.5) * invFilterScale);
                sum += k[x];
            }

            for (int x = 0; x < xmax; x++)
            {
                double w = sum != 0.0 ? k[x] / sum : k[x];
                weights[i * taps + x] = w < 0 ? (int)(-0.5 + w * (1 << PrecisionBits)) : (int)(0.5 + w * (1 << PrecisionBits));
            }

            start[i] = xmin;
            length[i] = Math.Max(xmax, 0);
        }

        int first = count == 0 ? 0 : start.Min();
        int end = count == 0 ? 0 : Enumerable.Range(0, count).Max(i => start[i] + length[i]);
        for (int i = 0; i < count; i++)
        {
            start[i] -= first;
        }

        return new ResampleAxis(first, end - first, taps, start, length, weights);
    }

    /// <summary>Pillow's clip8: the accumulator's integer part, clamped to a byte.</summary>
    public static byte Clip8(int accumulator) => (byte)Math.Clamp(accumulator >> PrecisionBits, 0, 255);

    /// <summary>The horizontal pass on one RGB row: <paramref name="source"/> is the row from <see cref="First"/> on.</summary>
    public void ResampleRow(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        for (int i = 0; i < Start.Length; i++)
        {
            int r = 1 << (PrecisionBits - 1), g = r, b = r; // Pillow's accumulators start at one half
            int s = Start[i] * 3;
            var w = Weights.AsSpan(i * Taps, Length[i]);
            for (int x = 0; x < w.Length; x++, s += 3)
            {
                r += source[s] * w[x];
                g += source[s + 1] * w[x];
                b += source[s + 2] * w[x];
            }

            destination[3 * i] = Clip8(r);
            destination[3 * i + 1] = Clip8(g);
            destination[3 * i + 2] = Clip8(b);
        }
    }

    /// <summary>
    /// The vertical pass: <paramref name="source"/> holds rows of <paramref name="rowBytes"/> bytes from
    /// <see cref="First"/> on; every byte of a row is one channel value, filtered on its own.
    /// </summary>
    public byte[] ResampleColumns(ReadOnlySpan<byte> source, int rowBytes)
    {
        var result = new byte[Start.Length * rowBytes];
        var sums = new int[rowBytes];
        for (int i = 0; i < Start.Length; i++)
        {
            Array.Fill(sums, 1 << (PrecisionBits - 1));
            var w = Weights.AsSpan(i * Taps, Length[i]);
            for (int y = 0; y < w.Length; y++)
            {
                var row = source.Slice((Start[i] + y) * rowBytes, rowBytes);
                int weight = w[y];
                for (int x = 0; x < rowBytes; x++)
                {
                    sums[x] += row[x] * weight;
                }
            }

            var output = result.AsSpan(i * rowBytes, rowBytes);
            for (int x = 0; x < rowBytes; x++)
            {
                output[x] = Clip8(sums[x]);
            }
        }

        return result;
    }
}
