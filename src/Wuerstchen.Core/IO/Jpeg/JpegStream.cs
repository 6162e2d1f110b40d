namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// The compressed bytes and one read position, shared by the marker reader and the entropy decoder the way libjpeg
/// shares its data source: the entropy decoder stops at the first marker inside scan data and leaves its code in
/// <see cref="UnreadMarker"/>, so whichever reads next starts where libjpeg would.
/// </summary>
internal sealed class JpegStream
{
    public const int Rst0 = 0xD0;
    public const int Soi = 0xD8;
    public const int Eoi = 0xD9;
    public const int Sos = 0xDA;

    public JpegStream(byte[] data) => Data = data;

    public byte[] Data { get; }

    public int Position { get; set; }

    /// <summary>A marker code already read but not yet handled; 0 when there is none.</summary>
    public int UnreadMarker { get; set; }

    public int Remaining => Data.Length - Position;

    public int ReadByte() => Position < Data.Length ? Data[Position++] : throw Truncated();

    public int ReadUInt16()
    {
        int high = ReadByte();
        return (high << 8) | ReadByte();
    }

    public void Skip(int count)
    {
        if (count > Remaining)
        {
            throw Truncated();
        }

        Position += count;
    }

    /// <summary>
    /// Finds the next marker as libjpeg's next_marker does, leaving its code in <see cref="UnreadMarker"/>: bytes before
    /// an 0xFF are skipped (libjpeg only warns about "extraneous bytes", and files from some cameras have them), fill
    /// 0xFF bytes are swallowed and an FF 00 pair (stuffed scan data) is skipped too. Running out of data is an error
    /// between segments; inside scan data (<paramref name="endIsEoi"/>) it reads as an end-of-image marker, as libjpeg's
    /// memory source supplies one there.
    /// </summary>
    public void FindMarker(bool endIsEoi)
    {
        while (true)
        {
            int c;
            do
            {
                if (Position >= Data.Length)
                {
                    EndOfData(endIsEoi);
                    return;
                }

                c = Data[Position++];
            }
            while (c != 0xFF);

            do
            {
                if (Position >= Data.Length)
                {
                    EndOfData(endIsEoi);
                    return;
                }

                c = Data[Position++];
            }
            while (c == 0xFF);

            if (c != 0)
            {
                UnreadMarker = c;
                return;
            }
        }
    }

    private void EndOfData(bool endIsEoi)
    {
        if (!endIsEoi)
        {
            throw Truncated();
        }

        UnreadMarker = Eoi;
    }

    public static JpegDecodeException Truncated() => JpegDecodeException.Invalid("the JPEG data ends in the middle of a segment");
}
