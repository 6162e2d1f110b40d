namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// Baseline and extended sequential Huffman scans (jdhuff.c): per block a DC difference then run/size coded AC
/// coefficients. Only non-zero coefficients are stored, so a block must be zero (single-pass) or hold an earlier
/// scan's values (libjpeg's multi-scan buffer behaves the same way). Once the data has run out, the rest of the
/// restart interval is left untouched, as libjpeg leaves it.
/// </summary>
internal sealed class JpegSequentialDecoder : JpegEntropyDecoder
{
    private readonly JpegHuffmanLookup[] _dc;
    private readonly JpegHuffmanLookup[] _ac;

    public JpegSequentialDecoder(JpegStream stream, JpegScan scan, int restartInterval, JpegHuffmanTable?[] dcTables, JpegHuffmanTable?[] acTables)
        : base(stream, scan, restartInterval)
    {
        // libjpeg only warns when Ss/Se/Ah/Al are not 0/63/0/0 in a sequential scan (some baseline files have zeros)
        int n = scan.Components.Length;
        _dc = new JpegHuffmanLookup[n];
        _ac = new JpegHuffmanLookup[n];
        for (int i = 0; i < n; i++)
        {
            _dc[i] = Table(dcTables, scan.DcTables[i], "DC").Derive(isDc: true);
            _ac[i] = Table(acTables, scan.AcTables[i], "AC").Derive(isDc: false);
        }
    }

    internal static JpegHuffmanTable Table(JpegHuffmanTable?[] tables, int index, string kind) =>
        index < tables.Length && tables[index] is { } table ? table
            : throw JpegDecodeException.Invalid($"a scan uses the {kind} Huffman table {index}, which is not defined");

    protected override void DecodeMcuData(short[] coefficients, int[] blocks, int[] membership, int blockCount)
    {
        if (Bits.InsufficientData)
        {
            return;
        }

        var natural = JpegZigzag.Natural;
        for (int b = 0; b < blockCount; b++)
        {
            int ci = membership[b];
            int at = blocks[b];
            int s = Bits.DecodeHuffman(_dc[ci]);
            if (s != 0)
            {
                s = Extend(Bits.GetBits(s), s);
            }

            // int arithmetic wraps as libjpeg's does on damaged data that accumulates DC differences
            s = unchecked(s + LastDc[ci]);
            LastDc[ci] = s;
            coefficients[at] = unchecked((short)s);

            var ac = _ac[ci];
            for (int k = 1; k < 64; k++)
            {
                s = Bits.DecodeHuffman(ac);
                int r = s >> 4;
                s &= 15;
                if (s != 0)
                {
                    k += r;
                    s = Extend(Bits.GetBits(s), s);
                    coefficients[at + natural[k]] = unchecked((short)s);
                }
                else
                {
                    if (r != 15)
                    {
                        break;
                    }

                    k += 15;
                }
            }
        }
    }
}
