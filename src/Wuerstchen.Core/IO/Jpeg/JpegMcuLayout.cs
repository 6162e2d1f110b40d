namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// Which blocks make up each MCU of a scan (libjpeg's per_scan_setup): for an interleaved scan MCUs of
/// maxH×maxV·8 pixels, each with h×v blocks of every scan component in scan order; for a one-component scan one
/// block an MCU over the component's real blocks. Gives each block's offset in the coefficient buffer, or in a
/// one-MCU scratch buffer that is then transformed into the component planes.
/// </summary>
internal sealed class JpegMcuLayout
{
    /// <summary>libjpeg's D_MAX_BLOCKS_IN_MCU: an interleaved MCU may hold at most 10 blocks.</summary>
    private const int MaxBlocksInMcu = 10;
    private readonly JpegComponent[] _component;
    private readonly int[] _dx;
    private readonly int[] _dy;
    private readonly bool _interleaved;

    public JpegMcuLayout(JpegFrame frame, JpegScan scan)
    {
        var components = scan.Components;
        _interleaved = components.Length > 1;
        if (_interleaved)
        {
            Columns = frame.McusPerLine;
            Rows = frame.McuRows;
            BlockCount = components.Sum(c => c.H * c.V);
            if (BlockCount > MaxBlocksInMcu)
            {
                throw JpegDecodeException.Invalid($"an MCU has {BlockCount} blocks (at most {MaxBlocksInMcu})");
            }
        }
        else
        {
            Columns = components[0].WidthInBlocks;
            Rows = components[0].HeightInBlocks;
            BlockCount = 1;
        }

        Offsets = new int[BlockCount];
        Membership = new int[BlockCount];
        _component = new JpegComponent[BlockCount];
        _dx = new int[BlockCount];
        _dy = new int[BlockCount];
        int b = 0;
        for (int ci = 0; ci < components.Length; ci++)
        {
            var c = components[ci];
            int h = _interleaved ? c.H : 1, v = _interleaved ? c.V : 1;
            for (int y = 0; y < v; y++)
            {
                for (int x = 0; x < h; x++, b++)
                {
                    (_component[b], Membership[b], _dx[b], _dy[b]) = (c, ci, x, y);
                }
            }
        }
    }

    public int Columns { get; }

    public int Rows { get; }

    public int BlockCount { get; }

    /// <summary>Where each block of the current MCU starts in the buffer being decoded into.</summary>
    public int[] Offsets { get; }

    /// <summary>Each block's component, as its position in the scan.</summary>
    public int[] Membership { get; }

    public void PlaceInScratch()
    {
        for (int b = 0; b < BlockCount; b++)
        {
            Offsets[b] = b * 64;
        }
    }

    public void PlaceInBuffer(int column, int row)
    {
        for (int b = 0; b < BlockCount; b++)
        {
            var (bx, by) = BlockPosition(b, column, row);
            Offsets[b] = _component[b].BlockOffset(bx, by);
        }
    }

    /// <summary>The IDCT of the scratch MCU's blocks that hold image samples (padding blocks are decoded, not kept).</summary>
    public void TransformMcu(short[] scratch, int column, int row)
    {
        for (int b = 0; b < BlockCount; b++)
        {
            var c = _component[b];
            var (bx, by) = BlockPosition(b, column, row);
            if (bx < c.WidthInBlocks && by < c.HeightInBlocks)
            {
                JpegIdct.Transform(scratch.AsSpan(b * 64, 64), c.IdctQuant, c.Plane, by * 8 * c.PlaneStride + bx * 8, c.PlaneStride);
            }
        }
    }

    private (int X, int Y) BlockPosition(int b, int column, int row)
    {
        var c = _component[b];
        return _interleaved ? (column * c.H + _dx[b], row * c.V + _dy[b]) : (column, row);
    }
}
