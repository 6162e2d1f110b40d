namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// A Huffman table as a DHT segment defines it: how many codes of each length 1–16, and the symbols in code order.
/// Decoding tables are derived from it at the start of every scan that uses it (<see cref="Derive"/>), because a DHT
/// between scans may redefine it.
/// </summary>
internal sealed class JpegHuffmanTable
{
    /// <summary>Counts[l] is the number of codes of length l (Counts[0] unused).</summary>
    public byte[] Counts { get; } = new byte[17];

    /// <summary>The symbols in code order, zero after the last (libjpeg clears the rest, and a corrupt code can index there).</summary>
    public byte[] Symbols { get; } = new byte[256];

    /// <summary>
    /// The decoding tables, checked as libjpeg-turbo checks them (jdhuff.c): at most 256 codes, each code length's
    /// codes must fit in that many bits (a valid prefix code), and a DC table's symbols are bit counts 0–15.
    /// </summary>
    public JpegHuffmanLookup Derive(bool isDc)
    {
        var sizes = new int[257];
        int count = 0;
        for (int length = 1; length <= 16; length++)
        {
            int n = Counts[length];
            if (count + n > 256)
            {
                throw JpegDecodeException.Invalid("a Huffman table has more than 256 codes");
            }

            for (int i = 0; i < n; i++)
            {
                sizes[count++] = length;
            }
        }

        var codes = new int[257];
        int code = 0, p = 0, size = sizes[0];
        while (sizes[p] != 0)
        {
            while (sizes[p] == size)
            {
                codes[p++] = code++;
            }

            if (code >= 1 << size)
            {
                throw JpegDecodeException.Invalid("a Huffman table's code lengths do not form a prefix code");
            }

            code <<= 1;
            size++;
        }

        if (isDc)
        {
            for (int i = 0; i < count; i++)
            {
                if (Symbols[i] > 15)
                {
                    throw JpegDecodeException.Invalid($"a DC Huffman table has the symbol {Symbols[i]} (at most 15)");
                }
            }
        }

        return new JpegHuffmanLookup(Counts, Symbols, codes);
    }

    /// <summary>
    /// The tables of the JPEG standard (ITU T.81 Annex K.3) for DC or AC, luminance (0) or chrominance (1).
    /// libjpeg-turbo installs them for a sequential file that has no DHT of its own for table 0 or 1 (Motion-JPEG
    /// frames leave them out). Each AC symbol list is a head in the standard's order followed by every remaining
    /// (run, size) symbol in increasing order, which is how the standard's list is built.
    /// </summary>
    public static JpegHuffmanTable Standard(bool isDc, int index)
    {
        var table = new JpegHuffmanTable();
        byte[] counts = (isDc, index) switch
        {
            (true, 0) => new byte[] { 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0 },
            (true, _) => new byte[] { 0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0 },
            (false, 0) => new byte[] { 0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d },
            _ => new byte[] { 0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77 },
        };
        counts.CopyTo(table.Counts, 1);
        if (isDc)
        {
            for (int i = 0; i < 12; i++)
            {
                table.Symbols[i] = (byte)i;
            }

            return table;
        }

        byte[] head = index == 0
            ? new byte[]
            {
                0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14,
                0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82,
            }
            : new byte[]
            {
                0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32,
                0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16,
                0x24, 0x34, 0xe1, 0x25, 0xf1,
            };
        head.CopyTo(table.Symbols, 0);
        int n = head.Length;
        for (int symbol = 0; symbol < 256; symbol++)
        {
            bool isAcSymbol = symbol is 0x00 or 0xF0 || (symbol & 15) is >= 1 and <= 10;
            if (isAcSymbol && Array.IndexOf(head, (byte)symbol) < 0)
            {
                table.Symbols[n++] = (byte)symbol;
            }
        }

        return table;
    }
}

/// <summary>
/// Decoding tables for one Huffman table: an 8-bit lookahead table for the short codes, and for longer ones the
/// bit-serial decode of T.81 Figure F.16 (the largest code of each length, and the offset from a code to its symbol).
/// </summary>
internal sealed class JpegHuffmanLookup
{
    public const int LookaheadBits = 8;

    public JpegHuffmanLookup(byte[] counts, byte[] symbols, int[] codes)
    {
        Symbols = (byte[])symbols.Clone();
        int p = 0;
        for (int length = 1; length <= 16; length++)
        {
            if (counts[length] != 0)
            {
                ValueOffset[length] = p - codes[p];
                p += counts[length];
                MaxCode[length] = codes[p - 1];
            }
            else
            {
                MaxCode[length] = -1;
            }
        }

        MaxCode[17] = 0xFFFFF; // ends the bit-serial search at 17 bits, where a corrupt code gives symbol 0

        Array.Fill(Lookup, (LookaheadBits + 1) << LookaheadBits); // "longer than the lookahead"
        p = 0;
        for (int length = 1; length <= LookaheadBits; length++)
        {
            for (int i = 0; i < counts[length]; i++, p++)
            {
                int first = codes[p] << (LookaheadBits - length);
                for (int k = 0; k < 1 << (LookaheadBits - length); k++)
                {
                    Lookup[first + k] = (length << LookaheadBits) | Symbols[p];
                }
            }
        }
    }

    public byte[] Symbols { get; }

    public int[] MaxCode { get; } = new int[18];

    public int[] ValueOffset { get; } = new int[18];

    /// <summary>For the next 8 bits: code length &lt;&lt; 8 | symbol, or 9 &lt;&lt; 8 when the code is longer.</summary>
    public int[] Lookup { get; } = new int[1 << LookaheadBits];
}
