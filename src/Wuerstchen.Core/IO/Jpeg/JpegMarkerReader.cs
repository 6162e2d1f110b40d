namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// Reads the marker segments between scans as libjpeg-turbo 2.1 does (jdmarker.c): tables (DQT, DHT, DRI), the frame
/// header, the scan headers, and the APP0 (JFIF) and APP14 (Adobe) markers that decide the colour space; other APPn
/// and COM segments are skipped, stray RSTn and TEM markers ignored, a DNL skipped. Where libjpeg stops with an error
/// this throws <see cref="JpegDecodeException"/>; frame types it decodes and this decoder does not are refused as
/// unsupported.
/// </summary>
internal sealed class JpegMarkerReader
{
    private readonly JpegStream _stream;

    public JpegMarkerReader(JpegStream stream) => _stream = stream;

    public ushort[]?[] QuantTables { get; } = new ushort[]?[4];

    public JpegHuffmanTable?[] DcTables { get; } = new JpegHuffmanTable?[4];

    public JpegHuffmanTable?[] AcTables { get; } = new JpegHuffmanTable?[4];

    public int RestartInterval { get; private set; }

    public bool SawJfif { get; private set; }

    public bool SawAdobe { get; private set; }

    public int AdobeTransform { get; private set; }

    public JpegFrame? Frame { get; private set; }

    /// <summary>Reads from the start-of-image marker to the first scan header.</summary>
    public JpegScan ReadHeader()
    {
        var data = _stream.Data;
        if (data.Length < 2 || data[0] != 0xFF || data[1] != JpegStream.Soi)
        {
            throw JpegDecodeException.Invalid("the data does not start with a JPEG start-of-image marker");
        }

        _stream.Position = 2;
        return ReadToScan() ?? throw JpegDecodeException.Invalid("the JPEG has no scan (an end-of-image marker came first)");
    }

    /// <summary>Reads segments up to the next scan header (returned) or the end-of-image marker (null).</summary>
    public JpegScan? ReadToScan()
    {
        while (true)
        {
            if (_stream.UnreadMarker == 0)
            {
                _stream.FindMarker(endIsEoi: false);
            }

            int marker = _stream.UnreadMarker;
            _stream.UnreadMarker = 0;
            switch (marker)
            {
                case JpegStream.Sos:
                    return ReadScan();
                case JpegStream.Eoi:
                    return null;
                case 0xC0 or 0xC1 or 0xC2:
                    ReadFrame(progressive: marker == 0xC2);
                    break;
                case 0xC9 or 0xCA:
                    throw JpegDecodeException.NotSupported("it is arithmetic-coded");
                case 0xC3 or 0xC5 or 0xC6 or 0xC7 or 0xC8 or 0xCB or 0xCD or 0xCE or 0xCF:
                    throw JpegDecodeException.NotSupported($"its frame type (SOF marker 0xFF{marker:X2}: lossless or hierarchical) is not decoded");
                case 0xC4:
                    ReadHuffmanTables();
                    break;
                case 0xDB:
                    ReadQuantTables();
                    break;
                case 0xDD:
                    ReadRestartInterval();
                    break;
                case 0xCC:
                    ReadArithmeticConditioning();
                    break;
                case 0xE0 or 0xEE:
                    ReadInterestingApp(marker);
                    break;
                case (>= 0xE1 and <= 0xEF) or 0xFE or 0xDC: // other APPn, COM, DNL
                    SkipSegment();
                    break;
                case (>= 0xD0 and <= 0xD7) or 0x01: // RSTn and TEM carry no parameters
                    break;
                case JpegStream.Soi:
                    throw JpegDecodeException.Invalid("the JPEG has a second start-of-image marker");
                default:
                    throw JpegDecodeException.Invalid($"the JPEG has an unknown marker 0xFF{marker:X2}");
            }
        }
    }

    private void ReadFrame(bool progressive)
    {
        int length = _stream.ReadUInt16();
        int precision = _stream.ReadByte();
        int height = _stream.ReadUInt16();
        int width = _stream.ReadUInt16();
        int count = _stream.ReadByte();
        if (Frame is not null)
        {
            throw JpegDecodeException.Invalid("the JPEG has two frame headers");
        }

        if (height == 0 || width == 0 || count == 0)
        {
            throw JpegDecodeException.Invalid($"the frame header declares {width}×{height} pixels and {count} components");
        }

        if (length - 8 != count * 3)
        {
            throw JpegDecodeException.Invalid("the frame header's length does not match its component count");
        }

        var components = new JpegComponent[count];
        for (int i = 0; i < count; i++)
        {
            int id = _stream.ReadByte();
            int factors = _stream.ReadByte();
            components[i] = new JpegComponent(i, id, factors >> 4, factors & 15, _stream.ReadByte());
        }

        if (precision != 8)
        {
            throw JpegDecodeException.NotSupported($"it has {precision}-bit samples (8-bit JPEGs are decoded)");
        }

        if (count is not (1 or 3))
        {
            throw JpegDecodeException.NotSupported($"it has {count} colour components (CMYK/YCCK or unusual); gray and 3-component JPEGs are decoded");
        }

        Frame = new JpegFrame(width, height, progressive, components);
    }

    private JpegScan ReadScan()
    {
        var frame = Frame ?? throw JpegDecodeException.Invalid("a scan comes before the frame header");
        int length = _stream.ReadUInt16();
        int n = _stream.ReadByte();
        if (length != n * 2 + 6 || n is < 1 or > 4)
        {
            throw JpegDecodeException.Invalid("a scan header's length does not match its component count");
        }

        var slots = new JpegComponent?[4];
        var dc = new int[n];
        var ac = new int[n];
        for (int i = 0; i < n; i++)
        {
            int id = _stream.ReadByte();
            int tables = _stream.ReadByte();

            // libjpeg looks the id up among the first four components, skipping a component whose index is a scan
            // position already taken; a scan that lists components out of frame order can fail here, as it does there
            JpegComponent? found = null;
            for (int ci = 0; ci < frame.Components.Length && ci < 4 && found is null; ci++)
            {
                if (frame.Components[ci].Id == id && slots[ci] is null)
                {
                    found = frame.Components[ci];
                }
            }

            if (found is null || Array.IndexOf(slots, found, 0, i) >= 0)
            {
                throw JpegDecodeException.Invalid($"a scan names the component id {id}, which the frame does not have (or twice)");
            }

            slots[i] = found;
            dc[i] = tables >> 4;
            ac[i] = tables & 15;
        }

        int ss = _stream.ReadByte();
        int se = _stream.ReadByte();
        int a = _stream.ReadByte();
        return new JpegScan(slots[..n]!, dc, ac, ss, se, a >> 4, a & 15);
    }

    private void ReadQuantTables()
    {
        int length = _stream.ReadUInt16() - 2;
        while (length > 0)
        {
            int n = _stream.ReadByte();
            bool wide = n >> 4 != 0;
            n &= 15;
            if (n >= 4)
            {
                throw JpegDecodeException.Invalid($"a quantization table has the index {n} (0 to 3)");
            }

            var table = new ushort[64];
            for (int i = 0; i < 64; i++)
            {
                table[JpegZigzag.Natural[i]] = (ushort)(wide ? _stream.ReadUInt16() : _stream.ReadByte());
            }

            QuantTables[n] = table;
            length -= wide ? 129 : 65;
        }

        if (length != 0)
        {
            throw JpegDecodeException.Invalid("a quantization table segment's length does not match its tables");
        }
    }

    private void ReadHuffmanTables()
    {
        int length = _stream.ReadUInt16() - 2;
        while (length > 16)
        {
            int index = _stream.ReadByte();
            var table = new JpegHuffmanTable();
            int count = 0;
            for (int l = 1; l <= 16; l++)
            {
                table.Counts[l] = (byte)_stream.ReadByte();
                count += table.Counts[l];
            }

            length -= 17;
            if (count > 256 || count > length)
            {
                throw JpegDecodeException.Invalid("a Huffman table has more codes than its segment holds");
            }

            for (int i = 0; i < count; i++)
            {
                table.Symbols[i] = (byte)_stream.ReadByte();
            }

            length -= count;
            bool isAc = (index & 0x10) != 0;
            index -= isAc ? 0x10 : 0;
            if (index is < 0 or >= 4)
            {
                throw JpegDecodeException.Invalid($"a Huffman table has the index {index} (0 to 3)");
            }

            (isAc ? AcTables : DcTables)[index] = table;
        }

        if (length != 0)
        {
            throw JpegDecodeException.Invalid("a Huffman table segment's length does not match its tables");
        }
    }

    private void ReadRestartInterval()
    {
        if (_stream.ReadUInt16() != 4)
        {
            throw JpegDecodeException.Invalid("a restart interval segment has the wrong length");
        }

        RestartInterval = _stream.ReadUInt16();
    }

    /// <summary>DAC (arithmetic conditioning): validated as libjpeg validates it, though only arithmetic scans use it.</summary>
    private void ReadArithmeticConditioning()
    {
        int length = _stream.ReadUInt16() - 2;
        while (length > 0)
        {
            int index = _stream.ReadByte();
            int value = _stream.ReadByte();
            length -= 2;
            if (index >= 8 || (index < 4 && (value & 15) > value >> 4))
            {
                throw JpegDecodeException.Invalid("an arithmetic conditioning segment is invalid");
            }
        }

        if (length != 0)
        {
            throw JpegDecodeException.Invalid("an arithmetic conditioning segment's length is odd");
        }
    }

    /// <summary>APP0 and APP14: their first bytes say JFIF (YCbCr) or Adobe with its colour transform.</summary>
    private void ReadInterestingApp(int marker)
    {
        int length = _stream.ReadUInt16() - 2;
        int read = Math.Clamp(length, 0, 14);
        var b = new byte[read];
        for (int i = 0; i < read; i++)
        {
            b[i] = (byte)_stream.ReadByte();
        }

        if (marker == 0xE0 && read >= 14 && b[0] == 'J' && b[1] == 'F' && b[2] == 'I' && b[3] == 'F' && b[4] == 0)
        {
            SawJfif = true;
        }
        else if (marker == 0xEE && read >= 12 && b[0] == 'A' && b[1] == 'd' && b[2] == 'o' && b[3] == 'b' && b[4] == 'e')
        {
            SawAdobe = true;
            AdobeTransform = b[11];
        }

        if (length - read > 0)
        {
            _stream.Skip(length - read);
        }
    }

    private void SkipSegment()
    {
        int length = _stream.ReadUInt16() - 2;
        if (length > 0)
        {
            _stream.Skip(length);
        }
    }
}

/// <summary>The zigzag order of the 64 DCT coefficients.</summary>
internal static class JpegZigzag
{
    /// <summary>
    /// Natural[k] is the natural (row-major) position of the k-th coefficient in zigzag order; entries 64–79 are 63, as
    /// in libjpeg, where a damaged run length that overshoots the block stores into the last coefficient.
    /// </summary>
    public static readonly int[] Natural = Build();

    private static int[] Build()
    {
        var order = new int[80];
        int k = 0;
        for (int sum = 0; sum < 15; sum++)
        {
            // odd anti-diagonals run down-left (row rising), even ones up-right
            for (int i = 0; i <= sum; i++)
            {
                int row = sum % 2 == 1 ? i : sum - i;
                int col = sum - row;
                if (row < 8 && col < 8)
                {
                    order[k++] = row * 8 + col;
                }
            }
        }

        for (; k < 80; k++)
        {
            order[k] = 63;
        }

        return order;
    }
}
