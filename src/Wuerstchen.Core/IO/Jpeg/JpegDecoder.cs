namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>Decoded pixels: <see cref="Width"/>×<see cref="Height"/>, row-major, 3 bytes (R, G, B) a pixel.</summary>
internal sealed record JpegImage(int Width, int Height, byte[] Rgb);

/// <summary>
/// A JPEG decoder whose RGB output is byte for byte what libjpeg-turbo 2.1.5 gives PIL with its default
/// decompression settings (islow integer IDCT, fancy upsampling, block smoothing, no scaling), so images decode as
/// they do in diffusers. Baseline, extended sequential and progressive Huffman JPEGs with 8-bit samples, gray or
/// 3 components (YCbCr or RGB), any integral sampling ratios and restart intervals. Arithmetic coding, 12-bit and
/// lossless frames, CMYK/YCCK and other component counts are refused with <see cref="JpegDecodeException.Unsupported"/>
/// set; malformed files throw it without.
/// Bounded: allocations follow the frame size (at most <c>maxPixels</c> pixels), at most <see cref="MaxScans"/> scans,
/// every table index is checked, and damaged entropy data decodes as zeros rather than looping.
/// </summary>
internal static class JpegDecoder
{
    /// <summary>More scans than any encoder writes (libjpeg's progressive script has 10); a file may repeat them to cost time.</summary>
    public const int MaxScans = 1000;

    public static JpegImage Decode(byte[] data, long maxPixels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var stream = new JpegStream(data);
        var markers = new JpegMarkerReader(stream);
        var scan = markers.ReadHeader();
        var frame = markers.Frame!;
        if ((long)frame.Width * frame.Height > maxPixels)
        {
            throw JpegDecodeException.Invalid($"the frame is {frame.Width}×{frame.Height} pixels, more than {maxPixels} are decoded");
        }

        frame.Setup();
        var space = ColorSpace(markers, frame);
        var upsampler = new JpegUpsampler(frame);
        foreach (var c in frame.Components)
        {
            c.Plane = new byte[(long)c.PlaneStride * c.HeightInBlocks * 8];
        }

        if (!frame.Progressive)
        {
            // a sequential file without its own tables 0 and 1 gets the standard ones (Motion-JPEG frames omit them)
            for (int i = 0; i < 2; i++)
            {
                markers.DcTables[i] ??= JpegHuffmanTable.Standard(isDc: true, i);
                markers.AcTables[i] ??= JpegHuffmanTable.Standard(isDc: false, i);
            }
        }

        // libjpeg decodes a file whose first scan holds every component in one pass, and ignores whatever follows;
        // anything else goes through a whole-image coefficient buffer, read to the end-of-image marker
        if (!frame.Progressive && scan.Components.Length == frame.Components.Length)
        {
            DecodeScan(stream, markers, frame, scan, null, cancellationToken);
        }
        else
        {
            var coefficients = AllocateCoefficients(frame);
            for (int scans = 1; scan is not null; scans++)
            {
                if (scans > MaxScans)
                {
                    throw JpegDecodeException.Invalid($"the JPEG has more than {MaxScans} scans");
                }

                DecodeScan(stream, markers, frame, scan, coefficients, cancellationToken);
                scan = markers.ReadToScan();
            }

            JpegBlockSmoothing.TransformAll(frame, coefficients, cancellationToken);
        }

        return new JpegImage(frame.Width, frame.Height, JpegColorConverter.Convert(frame, upsampler, space, cancellationToken));
    }

    /// <summary>
    /// libjpeg's guess: 1 component is gray; 3 are YCbCr when there is a JFIF marker, RGB when an Adobe marker says
    /// transform 0 (YCbCr for any other transform), otherwise RGB only for component ids 'R', 'G', 'B'.
    /// </summary>
    private static JpegColorSpace ColorSpace(JpegMarkerReader markers, JpegFrame frame)
    {
        if (frame.Components.Length == 1)
        {
            return JpegColorSpace.Gray;
        }

        if (markers.SawJfif)
        {
            return JpegColorSpace.YCbCr;
        }

        if (markers.SawAdobe)
        {
            return markers.AdobeTransform == 0 ? JpegColorSpace.Rgb : JpegColorSpace.YCbCr;
        }

        var c = frame.Components;
        return c[0].Id == 'R' && c[1].Id == 'G' && c[2].Id == 'B' ? JpegColorSpace.Rgb : JpegColorSpace.YCbCr;
    }

    private static short[] AllocateCoefficients(JpegFrame frame)
    {
        long total = 0;
        foreach (var c in frame.Components)
        {
            c.CoefficientOffset = (int)Math.Min(total, int.MaxValue);
            total += (long)c.BlocksPerLine * c.BlockRows * 64;
        }

        if (total > Array.MaxLength)
        {
            throw JpegDecodeException.Invalid("the frame is too large for a coefficient buffer");
        }

        return new short[total];
    }

    /// <summary>
    /// Decodes one scan: into the coefficient buffer, or (single-pass, <paramref name="coefficients"/> null) MCU by MCU
    /// straight through the IDCT into the component planes. An interleaved scan's MCU holds h×v blocks of each of its
    /// components (padding blocks past the image edge included); a one-component scan's MCU is one block and covers
    /// only the component's real blocks.
    /// </summary>
    private static void DecodeScan(JpegStream stream, JpegMarkerReader markers, JpegFrame frame, JpegScan scan, short[]? coefficients, CancellationToken ct)
    {
        foreach (var c in scan.Components)
        {
            LatchQuant(markers, c);
        }

        JpegEntropyDecoder entropy = frame.Progressive
            ? new JpegProgressiveDecoder(stream, scan, markers.RestartInterval, markers.DcTables, markers.AcTables)
            : new JpegSequentialDecoder(stream, scan, markers.RestartInterval, markers.DcTables, markers.AcTables);
        var layout = new JpegMcuLayout(frame, scan);
        var buffer = coefficients ?? new short[layout.BlockCount * 64];
        for (int row = 0; row < layout.Rows; row++)
        {
            ct.ThrowIfCancellationRequested();
            for (int column = 0; column < layout.Columns; column++)
            {
                if (coefficients is null)
                {
                    layout.PlaceInScratch();
                    Array.Clear(buffer);
                    entropy.DecodeMcu(buffer, layout.Offsets, layout.Membership, layout.BlockCount);
                    layout.TransformMcu(buffer, column, row);
                }
                else
                {
                    layout.PlaceInBuffer(column, row);
                    entropy.DecodeMcu(buffer, layout.Offsets, layout.Membership, layout.BlockCount);
                }
            }
        }
    }

    /// <summary>
    /// Latches the component's quantization table when its first scan starts, as libjpeg does; the multipliers the
    /// IDCT uses are those values as 16-bit integers (the SIMD build's type).
    /// </summary>
    private static void LatchQuant(JpegMarkerReader markers, JpegComponent c)
    {
        if (c.Quant is not null)
        {
            return;
        }

        if (c.QuantTableNo >= 4 || markers.QuantTables[c.QuantTableNo] is not { } table)
        {
            throw JpegDecodeException.Invalid($"a component uses the quantization table {c.QuantTableNo}, which is not defined");
        }

        c.Quant = (ushort[])table.Clone();
        for (int i = 0; i < 64; i++)
        {
            c.IdctQuant[i] = unchecked((short)table[i]);
        }
    }
}
