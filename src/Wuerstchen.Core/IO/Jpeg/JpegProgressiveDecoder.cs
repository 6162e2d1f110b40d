namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// Progressive Huffman scans (jdphuff.c): DC first and refinement scans (possibly interleaved), AC first and
/// refinement scans (one component), with EOB runs and successive approximation. Scan parameters are checked as
/// libjpeg checks them, and each component's coefficient bit state is updated for the block-smoothing decision.
/// </summary>
internal sealed class JpegProgressiveDecoder : JpegEntropyDecoder
{
    private readonly JpegHuffmanLookup[] _tables;
    private readonly bool _dcBand;

    public JpegProgressiveDecoder(JpegStream stream, JpegScan scan, int restartInterval, JpegHuffmanTable?[] dcTables, JpegHuffmanTable?[] acTables)
        : base(stream, scan, restartInterval)
    {
        _dcBand = scan.Ss == 0;
        bool bad = _dcBand ? scan.Se != 0 : scan.Ss > scan.Se || scan.Se > 63 || scan.Components.Length != 1;
        bad |= scan.Ah != 0 && scan.Al != scan.Ah - 1;
        bad |= scan.Al > 13;
        if (bad)
        {
            throw JpegDecodeException.Invalid($"a progressive scan has invalid parameters (Ss={scan.Ss}, Se={scan.Se}, Ah={scan.Ah}, Al={scan.Al})");
        }

        // inconsistent progressions are only warnings in libjpeg: record what is known and go on
        foreach (var c in scan.Components)
        {
            for (int k = scan.Ss; k <= Math.Min(scan.Se, c.CoefBits.Length - 1); k++)
            {
                c.CoefBits[k] = scan.Al;
            }
        }

        _tables = new JpegHuffmanLookup[scan.Components.Length];
        for (int i = 0; i < scan.Components.Length; i++)
        {
            if (_dcBand && scan.Ah == 0)
            {
                _tables[i] = JpegSequentialDecoder.Table(dcTables, scan.DcTables[i], "DC").Derive(isDc: true);
            }
            else if (!_dcBand)
            {
                _tables[i] = JpegSequentialDecoder.Table(acTables, scan.AcTables[i], "AC").Derive(isDc: false);
            }
        }
    }

    protected override void DecodeMcuData(short[] coefficients, int[] blocks, int[] membership, int blockCount)
    {
        if (_dcBand)
        {
            if (Scan.Ah == 0)
            {
                DcFirst(coefficients, blocks, membership, blockCount);
            }
            else
            {
                DcRefine(coefficients, blocks, blockCount);
            }
        }
        else if (Scan.Ah == 0)
        {
            AcFirst(coefficients, blocks[0]);
        }
        else
        {
            AcRefine(coefficients, blocks[0]);
        }
    }

    private void DcFirst(short[] coefficients, int[] blocks, int[] membership, int blockCount)
    {
        if (Bits.InsufficientData)
        {
            return;
        }

        for (int b = 0; b < blockCount; b++)
        {
            int ci = membership[b];
            int s = Bits.DecodeHuffman(_tables[ci]);
            if (s != 0)
            {
                s = Extend(Bits.GetBits(s), s);
            }

            long sum = (long)s + LastDc[ci];
            if (sum is > int.MaxValue or < int.MinValue)
            {
                throw JpegDecodeException.Invalid("a DC coefficient overflows");
            }

            LastDc[ci] = (int)sum;
            coefficients[blocks[b]] = unchecked((short)((long)sum << Scan.Al));
        }
    }

    private void DcRefine(short[] coefficients, int[] blocks, int blockCount)
    {
        // libjpeg does not check for exhausted data here: zero bits change nothing
        int bit = 1 << Scan.Al;
        for (int b = 0; b < blockCount; b++)
        {
            if (Bits.GetBits(1) != 0)
            {
                coefficients[blocks[b]] = unchecked((short)((ushort)coefficients[blocks[b]] | bit));
            }
        }
    }

    private void AcFirst(short[] coefficients, int at)
    {
        if (Bits.InsufficientData)
        {
            return;
        }

        if (EobRun > 0)
        {
            EobRun--;
            return;
        }

        var natural = JpegZigzag.Natural;
        var table = _tables[0];
        for (int k = Scan.Ss; k <= Scan.Se; k++)
        {
            int s = Bits.DecodeHuffman(table);
            int r = s >> 4;
            s &= 15;
            if (s != 0)
            {
                k += r;
                s = Extend(Bits.GetBits(s), s);
                coefficients[at + natural[k]] = unchecked((short)((long)s << Scan.Al));
            }
            else if (r == 15)
            {
                k += 15;
            }
            else
            {
                EobRun = (1 << r) - 1 + (r != 0 ? Bits.GetBits(r) : 0);
                break;
            }
        }
    }

    private void AcRefine(short[] coefficients, int at)
    {
        if (Bits.InsufficientData)
        {
            return;
        }

        int p1 = 1 << Scan.Al;
        int m1 = -1 << Scan.Al;
        int k = EobRun == 0 ? RefineCodedPart(coefficients, at, p1, m1) : Scan.Ss;
        if (EobRun > 0)
        {
            // the rest of the band is in the EOB run: only correction bits for non-zero coefficients
            for (; k <= Scan.Se; k++)
            {
                int pos = at + JpegZigzag.Natural[k];
                if (coefficients[pos] != 0)
                {
                    Refine(coefficients, pos, p1, m1);
                }
            }

            EobRun--;
        }
    }

    /// <summary>
    /// The coded part of a refinement band: run/size symbols place newly non-zero coefficients (±2^Al) after r zero
    /// ones, appending a correction bit to every non-zero coefficient passed; an EOB symbol starts an EOB run. Returns
    /// the position where the EOB run (if any) takes over.
    /// </summary>
    private int RefineCodedPart(short[] coefficients, int at, int p1, int m1)
    {
        var natural = JpegZigzag.Natural;
        var table = _tables[0];
        int k = Scan.Ss;
        for (; k <= Scan.Se; k++)
        {
            int s = Bits.DecodeHuffman(table);
            int r = s >> 4;
            s &= 15;
            if (s != 0)
            {
                // the size of a newly non-zero coefficient is always 1 (libjpeg warns otherwise and goes on)
                s = Bits.GetBits(1) != 0 ? p1 : m1;
            }
            else if (r != 15)
            {
                EobRun = (1 << r) + (r != 0 ? Bits.GetBits(r) : 0);
                break;
            }

            do
            {
                int pos = at + natural[k];
                if (coefficients[pos] != 0)
                {
                    Refine(coefficients, pos, p1, m1);
                }
                else if (--r < 0)
                {
                    break;
                }

                k++;
            }
            while (k <= Scan.Se);

            if (s != 0)
            {
                coefficients[at + natural[k]] = (short)s;
            }
        }

        return k;
    }

    private void Refine(short[] coefficients, int pos, int p1, int m1)
    {
        if (Bits.GetBits(1) != 0 && (coefficients[pos] & p1) == 0)
        {
            coefficients[pos] = unchecked((short)(coefficients[pos] + (coefficients[pos] >= 0 ? p1 : m1)));
        }
    }
}
