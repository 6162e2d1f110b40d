namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// Decodes one scan's MCUs into coefficient blocks (natural order, not dequantized), with the restart-marker handling
/// libjpeg-turbo's Huffman decoders share (jdhuff.c, jdphuff.c): every restart interval the leftover bits are dropped,
/// the expected RSTn is read (or libjpeg's resynchronisation rules applied when it is not there), DC predictions and
/// the EOB run start again, and the out-of-data state clears unless a marker is still pending.
/// </summary>
internal abstract class JpegEntropyDecoder
{
    private readonly JpegStream _stream;
    private readonly int _restartInterval;
    private int _restartsToGo;
    private int _nextRestart;

    protected JpegEntropyDecoder(JpegStream stream, JpegScan scan, int restartInterval)
    {
        _stream = stream;
        Scan = scan;
        Bits = new JpegBitReader(stream);
        _restartInterval = restartInterval;
        _restartsToGo = restartInterval;
        LastDc = new int[scan.Components.Length];
    }

    protected JpegScan Scan { get; }

    protected JpegBitReader Bits { get; }

    /// <summary>The DC prediction of each scan component.</summary>
    protected int[] LastDc { get; }

    /// <summary>The end-of-band run still to skip (progressive AC scans).</summary>
    protected int EobRun { get; set; }

    /// <summary>
    /// Decodes the next MCU. <paramref name="blocks"/>[i] is where block i of the MCU starts in
    /// <paramref name="coefficients"/>; <paramref name="membership"/>[i] is its component's position in the scan.
    /// </summary>
    public void DecodeMcu(short[] coefficients, int[] blocks, int[] membership, int blockCount)
    {
        if (_restartInterval != 0)
        {
            if (_restartsToGo == 0)
            {
                ProcessRestart();
            }

            _restartsToGo--;
        }

        DecodeMcuData(coefficients, blocks, membership, blockCount);
    }

    protected abstract void DecodeMcuData(short[] coefficients, int[] blocks, int[] membership, int blockCount);

    /// <summary>T.81 F.12: a value of <paramref name="size"/> bits with its top bit clear is negative.</summary>
    protected static int Extend(int value, int size) => value < 1 << (size - 1) ? value + (-1 << size) + 1 : value;

    private void ProcessRestart()
    {
        Bits.DiscardBuffered();
        ReadRestartMarker();
        Array.Clear(LastDc);
        EobRun = 0;
        _restartsToGo = _restartInterval;
        if (_stream.UnreadMarker == 0)
        {
            Bits.InsufficientData = false;
        }
    }

    private void ReadRestartMarker()
    {
        if (_stream.UnreadMarker == 0)
        {
            _stream.FindMarker(endIsEoi: true);
        }

        if (_stream.UnreadMarker == JpegStream.Rst0 + _nextRestart)
        {
            _stream.UnreadMarker = 0;
        }
        else
        {
            Resynchronize(_nextRestart);
        }

        _nextRestart = (_nextRestart + 1) & 7;
    }

    /// <summary>
    /// libjpeg's default recovery (jpeg_resync_to_restart) when the marker found is not the RSTn expected: a marker
    /// that is not a RST or is one of the next two RSTs is left for later (the interval decodes as empty data); one
    /// of the previous two, or an invalid code, is skipped and the next marker looked at; any other RST is accepted.
    /// </summary>
    private void Resynchronize(int desired)
    {
        while (true)
        {
            int marker = _stream.UnreadMarker;
            bool isRst = marker is >= JpegStream.Rst0 and <= JpegStream.Rst0 + 7;
            bool ahead = marker == JpegStream.Rst0 + ((desired + 1) & 7) || marker == JpegStream.Rst0 + ((desired + 2) & 7);
            bool behind = marker == JpegStream.Rst0 + ((desired - 1) & 7) || marker == JpegStream.Rst0 + ((desired - 2) & 7);
            if (marker < 0xC0 || (isRst && behind && !ahead))
            {
                _stream.FindMarker(endIsEoi: true);
            }
            else if (!isRst || ahead)
            {
                return;
            }
            else
            {
                _stream.UnreadMarker = 0;
                return;
            }
        }
    }
}
