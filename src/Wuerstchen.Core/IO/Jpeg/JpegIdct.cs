namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// libjpeg's default inverse DCT, JDCT_ISLOW (jidctint.c: the Loeffler–Ligtenberg–Moschytz algorithm in 13-bit fixed
/// point with 2 extra bits between the passes), reproduced in its integer arithmetic so the samples are the same:
/// 64-bit intermediates as on 64-bit Linux, the quantization multipliers as 16-bit values (the SIMD build's type),
/// and the output limited through libjpeg's 1024-entry range table, whose wrap-around for wildly out-of-range values
/// matters only for damaged data but costs nothing to keep.
/// </summary>
internal static class JpegIdct
{
    private const int ConstBits = 13;
    private const int Pass1Bits = 2;
    private const long Fix0298631336 = 2446;
    private const long Fix0390180644 = 3196;
    private const long Fix0541196100 = 4433;
    private const long Fix0765366865 = 6270;
    private const long Fix0899976223 = 7373;
    private const long Fix1175875602 = 9633;
    private const long Fix1501321110 = 12299;
    private const long Fix1847759065 = 15137;
    private const long Fix1961570560 = 16069;
    private const long Fix2053119869 = 16819;
    private const long Fix2562915447 = 20995;
    private const long Fix3072711026 = 25172;

    /// <summary>
    /// libjpeg's post-IDCT range limit, indexed by the descaled value's low 10 bits: -128…383 map to the clamped
    /// sample value+128, and the values beyond wrap as the masked index does there.
    /// </summary>
    private static readonly byte[] RangeLimit = BuildRangeLimit();

    private static byte[] BuildRangeLimit()
    {
        var table = new byte[1024];
        for (int i = 0; i < 1024; i++)
        {
            table[i] = i switch
            {
                < 128 => (byte)(i + 128),
                < 512 => 255,
                < 896 => 0,
                _ => (byte)(i - 896),
            };
        }

        return table;
    }

    /// <summary>
    /// Dequantizes the block at <paramref name="block"/>[<paramref name="at"/>..+64] (natural order) with
    /// <paramref name="quant"/> and writes its 8×8 samples at <paramref name="output"/>[<paramref name="outAt"/>] with
    /// <paramref name="stride"/> bytes a row.
    /// </summary>
    public static void Transform(ReadOnlySpan<short> block, ReadOnlySpan<short> quant, Span<byte> output, int outAt, int stride)
    {
        Span<int> ws = stackalloc int[64];
        block = block[..64];
        quant = quant[..64];
        for (int c = 0; c < 8; c++)
        {
            Columns(block, quant, ws, c);
        }

        for (int r = 0; r < 8; r++)
        {
            Row(ws.Slice(r * 8, 8), output.Slice(outAt + r * stride, 8));
        }
    }

    /// <summary>Pass 1: one column, dequantized, into the workspace scaled by 2^PASS1_BITS.</summary>
    private static void Columns(ReadOnlySpan<short> b, ReadOnlySpan<short> q, Span<int> ws, int c)
    {
        if (b[8 + c] == 0 && b[16 + c] == 0 && b[24 + c] == 0 && b[32 + c] == 0 && b[40 + c] == 0 && b[48 + c] == 0 && b[56 + c] == 0)
        {
            // all AC terms zero: every output is the DC term (the shortcut gives what the full computation would)
            int dc = unchecked((b[c] * q[c]) << Pass1Bits);
            for (int r = 0; r < 8; r++)
            {
                ws[r * 8 + c] = dc;
            }

            return;
        }

        long z2 = b[16 + c] * q[16 + c];
        long z3 = b[48 + c] * q[48 + c];
        long z1 = (z2 + z3) * Fix0541196100;
        long tmp2 = z1 + z3 * -Fix1847759065;
        long tmp3 = z1 + z2 * Fix0765366865;
        z2 = b[c] * q[c];
        z3 = b[32 + c] * q[32 + c];
        long tmp0 = (z2 + z3) << ConstBits;
        long tmp1 = (z2 - z3) << ConstBits;
        long tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

        Odd(b[56 + c] * q[56 + c], b[40 + c] * q[40 + c], b[24 + c] * q[24 + c], b[8 + c] * q[8 + c], out tmp0, out tmp1, out tmp2, out tmp3);

        const int Shift = ConstBits - Pass1Bits;
        ws[c] = Descale(tmp10 + tmp3, Shift);
        ws[56 + c] = Descale(tmp10 - tmp3, Shift);
        ws[8 + c] = Descale(tmp11 + tmp2, Shift);
        ws[48 + c] = Descale(tmp11 - tmp2, Shift);
        ws[16 + c] = Descale(tmp12 + tmp1, Shift);
        ws[40 + c] = Descale(tmp12 - tmp1, Shift);
        ws[24 + c] = Descale(tmp13 + tmp0, Shift);
        ws[32 + c] = Descale(tmp13 - tmp0, Shift);
    }

    /// <summary>Pass 2: one workspace row to 8 samples, descaled by 8 and 2^PASS1_BITS and range-limited.</summary>
    private static void Row(ReadOnlySpan<int> w, Span<byte> output)
    {
        const int Shift = ConstBits + Pass1Bits + 3;
        if (w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0)
        {
            output.Fill(Limit(Descale(w[0], Pass1Bits + 3)));
            return;
        }

        long z2 = w[2];
        long z3 = w[6];
        long z1 = (z2 + z3) * Fix0541196100;
        long tmp2 = z1 + z3 * -Fix1847759065;
        long tmp3 = z1 + z2 * Fix0765366865;
        long tmp0 = ((long)w[0] + w[4]) << ConstBits;
        long tmp1 = ((long)w[0] - w[4]) << ConstBits;
        long tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

        Odd(w[7], w[5], w[3], w[1], out tmp0, out tmp1, out tmp2, out tmp3);

        output[0] = Limit(Descale(tmp10 + tmp3, Shift));
        output[7] = Limit(Descale(tmp10 - tmp3, Shift));
        output[1] = Limit(Descale(tmp11 + tmp2, Shift));
        output[6] = Limit(Descale(tmp11 - tmp2, Shift));
        output[2] = Limit(Descale(tmp12 + tmp1, Shift));
        output[5] = Limit(Descale(tmp12 - tmp1, Shift));
        output[3] = Limit(Descale(tmp13 + tmp0, Shift));
        output[4] = Limit(Descale(tmp13 - tmp0, Shift));
    }

    /// <summary>The odd part (T.81's figure 8 flow graph as libjpeg computes it) from inputs 7, 5, 3, 1.</summary>
    private static void Odd(long in7, long in5, long in3, long in1, out long tmp0, out long tmp1, out long tmp2, out long tmp3)
    {
        long z1 = in7 + in1;
        long z2 = in5 + in3;
        long z3 = in7 + in3;
        long z4 = in5 + in1;
        long z5 = (z3 + z4) * Fix1175875602;
        tmp0 = in7 * Fix0298631336;
        tmp1 = in5 * Fix2053119869;
        tmp2 = in3 * Fix3072711026;
        tmp3 = in1 * Fix1501321110;
        z1 *= -Fix0899976223;
        z2 *= -Fix2562915447;
        z3 = z3 * -Fix1961570560 + z5;
        z4 = z4 * -Fix0390180644 + z5;
        tmp0 += z1 + z3;
        tmp1 += z2 + z4;
        tmp2 += z2 + z3;
        tmp3 += z1 + z4;
    }

    /// <summary>Rounded arithmetic shift right, truncated to int as libjpeg's (int) cast does.</summary>
    private static int Descale(long x, int n) => unchecked((int)((x + (1L << (n - 1))) >> n));

    private static byte Limit(int x) => RangeLimit[x & 1023];
}
