using System.Runtime.CompilerServices;

namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// Reads entropy-coded bits as libjpeg-turbo's bit reader does (jdhuff.c), including what it does with damaged data,
/// since the output must match libjpeg's for any file it decodes: bytes are unstuffed (FF 00 is FF), a marker ends
/// the data, and bits asked for past it are zeros while <see cref="InsufficientData"/> is set (libjpeg then leaves the
/// rest of the restart interval's blocks zero). The buffer is filled to at least 57 bits as libjpeg's 64-bit buffer is;
/// bytes it reads ahead are scan data, never past a marker, so the marker reader resumes where libjpeg would.
/// </summary>
internal sealed class JpegBitReader
{
    private const int MinGetBits = 57;
    private readonly JpegStream _stream;
    private ulong _buffer;
    private int _bitsLeft;

    public JpegBitReader(JpegStream stream) => _stream = stream;

    /// <summary>Set when bits past the end of the scan data were read (as zeros); cleared by a restart marker.</summary>
    public bool InsufficientData { get; set; }

    /// <summary>Starts a scan: nothing buffered, data not yet exhausted.</summary>
    public void Reset()
    {
        _buffer = 0;
        _bitsLeft = 0;
        InsufficientData = false;
    }

    /// <summary>Drops the buffered bits (at a restart marker the rest of the byte, and any read-ahead, is padding).</summary>
    public void DiscardBuffered() => _bitsLeft = 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int GetBits(int count)
    {
        if (_bitsLeft < count)
        {
            Fill(count);
        }

        _bitsLeft -= count;
        return (int)(_buffer >> _bitsLeft) & ((1 << count) - 1);
    }

    /// <summary>
    /// The next Huffman symbol: through the lookahead table when 8 bits are buffered and the code is that short,
    /// otherwise bit by bit (libjpeg's slow path; with fewer than 8 bits left before a marker it pads only the bits
    /// the code really needs, which decides whether <see cref="InsufficientData"/> is set).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int DecodeHuffman(JpegHuffmanLookup table)
    {
        if (_bitsLeft < JpegHuffmanLookup.LookaheadBits)
        {
            Fill(0);
            if (_bitsLeft < JpegHuffmanLookup.LookaheadBits)
            {
                return DecodeSlow(table, 1);
            }
        }

        int entry = table.Lookup[(int)(_buffer >> (_bitsLeft - JpegHuffmanLookup.LookaheadBits)) & 0xFF];
        int length = entry >> JpegHuffmanLookup.LookaheadBits;
        if (length <= JpegHuffmanLookup.LookaheadBits)
        {
            _bitsLeft -= length;
            return entry & 0xFF;
        }

        return DecodeSlow(table, JpegHuffmanLookup.LookaheadBits + 1);
    }

    private int DecodeSlow(JpegHuffmanLookup table, int minLength)
    {
        int length = minLength;
        int code = GetBits(length);
        while (code > table.MaxCode[length])
        {
            code = (code << 1) | GetBits(1);
            length++;
        }

        // a code longer than 16 bits exists only in damaged data: libjpeg warns and takes symbol 0
        return length > 16 ? 0 : table.Symbols[(code + table.ValueOffset[length]) & 0xFF];
    }

    /// <summary>
    /// Loads bytes until 57 bits are buffered or a marker (or the end of the data, read as a marker) is reached; then,
    /// if fewer than <paramref name="needed"/> bits remain, pads with zeros and records that data ran out.
    /// </summary>
    private void Fill(int needed)
    {
        if (_stream.UnreadMarker == 0)
        {
            var data = _stream.Data;
            int pos = _stream.Position;
            while (_bitsLeft < MinGetBits)
            {
                if (pos >= data.Length)
                {
                    _stream.UnreadMarker = JpegStream.Eoi;
                    break;
                }

                int c = data[pos++];
                if (c == 0xFF)
                {
                    do
                    {
                        c = pos < data.Length ? data[pos++] : -1;
                    }
                    while (c == 0xFF);

                    if (c != 0)
                    {
                        _stream.UnreadMarker = c < 0 ? JpegStream.Eoi : c;
                        break;
                    }

                    c = 0xFF;
                }

                _buffer = (_buffer << 8) | (uint)c;
                _bitsLeft += 8;
            }

            _stream.Position = pos;
            if (_stream.UnreadMarker == 0)
            {
                return;
            }
        }

        if (needed > _bitsLeft)
        {
            InsufficientData = true;
            _buffer <<= MinGetBits - _bitsLeft;
            _bitsLeft = MinGetBits;
        }
    }
}
