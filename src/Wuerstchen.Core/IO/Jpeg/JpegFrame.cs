namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>One image component (Y, Cb, Cr or gray) of the frame, with the geometry libjpeg derives for it.</summary>
internal sealed class JpegComponent
{
    public JpegComponent(int index, int id, int h, int v, int quantTableNo)
    {
        Index = index;
        Id = id;
        H = h;
        V = v;
        QuantTableNo = quantTableNo;
    }

    public int Index { get; }

    public int Id { get; }

    public int H { get; }

    public int V { get; }

    public int QuantTableNo { get; }

    /// <summary>Blocks that hold image samples (libjpeg's width_in_blocks and height_in_blocks).</summary>
    public int WidthInBlocks { get; set; }

    public int HeightInBlocks { get; set; }

    /// <summary>The component's sample size before upsampling (libjpeg's downsampled_width and _height).</summary>
    public int DownsampledWidth { get; set; }

    public int DownsampledHeight { get; set; }

    /// <summary>Blocks per line and block rows of whole MCUs: interleaved scans code padding blocks there too.</summary>
    public int BlocksPerLine { get; set; }

    public int BlockRows { get; set; }

    /// <summary>
    /// The quantization table in natural order, latched when the component's first scan starts (libjpeg copies it
    /// then, so a DQT that redefines the table later does not change this component). Null until then.
    /// </summary>
    public ushort[]? Quant { get; set; }

    /// <summary>
    /// The IDCT's multipliers: <see cref="Quant"/> as 16-bit integers (the type of libjpeg-turbo's SIMD build); zero
    /// for a component no scan ever carried, which libjpeg leaves zero too (its samples come out 128).
    /// </summary>
    public short[] IdctQuant { get; } = new short[64];

    /// <summary>
    /// For each of the first 10 coefficients in zigzag order, the lowest bit known so far (progressive successive
    /// approximation), or -1 while none is: what libjpeg's coef_bits records to decide on block smoothing.
    /// </summary>
    public int[] CoefBits { get; } = { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 };

    /// <summary>Where this component's blocks start in the shared coefficient buffer (multi-scan files).</summary>
    public int CoefficientOffset { get; set; }

    /// <summary>The decoded samples, <see cref="PlaneStride"/> bytes a row, WidthInBlocks×HeightInBlocks blocks.</summary>
    public byte[] Plane { get; set; } = Array.Empty<byte>();

    public int PlaneStride => WidthInBlocks * 8;

    /// <summary>The offset of block (column, row) in the coefficient buffer.</summary>
    public int BlockOffset(int column, int row) => CoefficientOffset + (row * BlocksPerLine + column) * 64;
}

/// <summary>The frame header (SOF) and the geometry libjpeg derives from it when the first scan starts.</summary>
internal sealed class JpegFrame
{
    public JpegFrame(int width, int height, bool progressive, JpegComponent[] components)
    {
        Width = width;
        Height = height;
        Progressive = progressive;
        Components = components;
    }

    public int Width { get; }

    public int Height { get; }

    public bool Progressive { get; }

    public JpegComponent[] Components { get; }

    public int MaxH { get; private set; }

    public int MaxV { get; private set; }

    /// <summary>MCUs per row and MCU rows of an interleaved scan (libjpeg's iMCU rows).</summary>
    public int McusPerLine { get; private set; }

    public int McuRows { get; private set; }

    /// <summary>
    /// Checks the sampling factors (1–4, as libjpeg) and derives each component's size in samples and blocks:
    /// a component with factors h×v covers ceil(width·h/maxH) × ceil(height·v/maxV) samples.
    /// </summary>
    public void Setup()
    {
        MaxH = 1;
        MaxV = 1;
        foreach (var c in Components)
        {
            if (c.H is < 1 or > 4 || c.V is < 1 or > 4)
            {
                throw JpegDecodeException.Invalid($"a component has sampling factors {c.H}×{c.V} (1 to 4 each)");
            }

            MaxH = Math.Max(MaxH, c.H);
            MaxV = Math.Max(MaxV, c.V);
        }

        McusPerLine = DivUp(Width, MaxH * 8);
        McuRows = DivUp(Height, MaxV * 8);
        foreach (var c in Components)
        {
            c.WidthInBlocks = DivUp((long)Width * c.H, MaxH * 8);
            c.HeightInBlocks = DivUp((long)Height * c.V, MaxV * 8);
            c.DownsampledWidth = DivUp((long)Width * c.H, MaxH);
            c.DownsampledHeight = DivUp((long)Height * c.V, MaxV);
            c.BlocksPerLine = McusPerLine * c.H;
            c.BlockRows = McuRows * c.V;
        }
    }

    private static int DivUp(long a, long b) => (int)((a + b - 1) / b);
}

/// <summary>One scan header (SOS): its components with their Huffman table numbers, spectral band and bit positions.</summary>
internal sealed record JpegScan(JpegComponent[] Components, int[] DcTables, int[] AcTables, int Ss, int Se, int Ah, int Al);
