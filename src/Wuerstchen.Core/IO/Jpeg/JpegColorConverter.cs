namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>The colour space of the coded components, as libjpeg guesses it (jdapimin.c default_decompress_parms).</summary>
internal enum JpegColorSpace
{
    Gray,
    YCbCr,
    Rgb,
}

/// <summary>
/// Turns the upsampled component rows into RGB bytes as libjpeg-turbo does for PIL: YCbCr through libjpeg's
/// 16-bit fixed-point tables (jdcolor.c, build_ycc_rgb_table and ycc_rgb_convert), RGB components copied, and gray
/// replicated into R, G and B (PIL decodes gray to "L", and convert("RGB") copies it).
/// </summary>
internal static class JpegColorConverter
{
    private const int ScaleBits = 16;
    private const long OneHalf = 1L << (ScaleBits - 1);
    private static readonly int[] CrToR = new int[256];
    private static readonly int[] CbToB = new int[256];
    private static readonly long[] CrToG = new long[256];
    private static readonly long[] CbToG = new long[256];

    static JpegColorConverter()
    {
        for (int i = 0; i < 256; i++)
        {
            long x = i - 128;
            CrToR[i] = (int)((Fix(1.40200) * x + OneHalf) >> ScaleBits);
            CbToB[i] = (int)((Fix(1.77200) * x + OneHalf) >> ScaleBits);
            CrToG[i] = -Fix(0.71414) * x;
            CbToG[i] = -Fix(0.34414) * x + OneHalf; // the rounding half added once here, as libjpeg does
        }
    }

    /// <summary>libjpeg's FIX(): the constant in 16-bit fixed point, rounded in double precision.</summary>
    private static long Fix(double x) => (long)(x * (1L << ScaleBits) + 0.5);

    /// <summary>
    /// The RGB image, row by row: each component row through the upsampler, then converted. Checks for cancellation
    /// every 64 rows.
    /// </summary>
    public static byte[] Convert(JpegFrame frame, JpegUpsampler upsampler, JpegColorSpace space, CancellationToken cancellationToken)
    {
        int width = frame.Width;
        var rgb = new byte[(long)width * frame.Height * 3];
        for (int y = 0; y < frame.Height; y++)
        {
            if ((y & 63) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            var output = rgb.AsSpan(y * width * 3, width * 3);
            if (space == JpegColorSpace.Gray)
            {
                Gray(upsampler.Row(0, y)[..width], output);
            }
            else
            {
                var c0 = upsampler.Row(0, y)[..width];
                var c1 = upsampler.Row(1, y)[..width];
                var c2 = upsampler.Row(2, y)[..width];
                if (space == JpegColorSpace.YCbCr)
                {
                    YccToRgb(c0, c1, c2, output);
                }
                else
                {
                    Interleave(c0, c1, c2, output);
                }
            }
        }

        return rgb;
    }

    private static void YccToRgb(ReadOnlySpan<byte> luma, ReadOnlySpan<byte> cb, ReadOnlySpan<byte> cr, Span<byte> output)
    {
        for (int x = 0, o = 0; x < luma.Length; x++, o += 3)
        {
            int y = luma[x];
            int b = cb[x];
            int r = cr[x];
            output[o] = Clamp(y + CrToR[r]);
            output[o + 1] = Clamp(y + (int)((CbToG[b] + CrToG[r]) >> ScaleBits));
            output[o + 2] = Clamp(y + CbToB[b]);
        }
    }

    private static void Interleave(ReadOnlySpan<byte> r, ReadOnlySpan<byte> g, ReadOnlySpan<byte> b, Span<byte> output)
    {
        for (int x = 0, o = 0; x < r.Length; x++, o += 3)
        {
            output[o] = r[x];
            output[o + 1] = g[x];
            output[o + 2] = b[x];
        }
    }

    private static void Gray(ReadOnlySpan<byte> gray, Span<byte> output)
    {
        for (int x = 0, o = 0; x < gray.Length; x++, o += 3)
        {
            output[o] = output[o + 1] = output[o + 2] = gray[x];
        }
    }

    private static byte Clamp(int v) => (byte)Math.Clamp(v, 0, 255);
}
