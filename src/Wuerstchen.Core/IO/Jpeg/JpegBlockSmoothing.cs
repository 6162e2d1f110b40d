namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// The final IDCT pass of a multi-scan file, with libjpeg's block smoothing where libjpeg applies it (jdcoefct.c,
/// on by default): in a progressive file whose scans leave some of the first 9 AC coefficients (zigzag 1–9) of some
/// component not known to full precision, each such coefficient that is still zero is estimated from the DC values
/// of the 5×5 neighbouring blocks — and when no AC data came at all, the DC itself and four more coefficients are.
/// Reproduced with libjpeg's integer formulas and its edge handling, which at the top and bottom depends on the
/// iMCU-row structure and at the right edge of very narrow images is not a plain clamp.
/// Files whose scans are complete (every encoder's default) are transformed unchanged.
/// </summary>
internal static class JpegBlockSmoothing
{
    /// <summary>The AC estimates when some AC data is known (T.81 K.8 on a 5×5 window), per zigzag index 1–5: rows are block rows −2…+2, columns block columns −2…+2.</summary>
    private static readonly int[][] AcKernels =
    {
        null!,
        K(0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ -7, 50, 0, -50, 7, /**/ 0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0),
        K(0, 0, -7, 0, 0, /**/ 0, 0, 50, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ 0, 0, -50, 0, 0, /**/ 0, 0, 7, 0, 0),
        K(0, 0, -1, 0, 0, /**/ 0, 0, 13, 0, 0, /**/ 0, 0, -24, 0, 0, /**/ 0, 0, 13, 0, 0, /**/ 0, 0, -1, 0, 0),
        K(0, -1, 0, 1, 0, /**/ -1, 10, 0, -10, 1, /**/ 0, 0, 0, 0, 0, /**/ 1, -10, 0, 10, -1, /**/ 0, 1, 0, -1, 0),
        K(0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ -1, 13, -24, 13, -1, /**/ 0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0),
    };

    /// <summary>The Gaussian-like estimates when no AC data is known, per zigzag index 0 (the DC) to 9.</summary>
    private static readonly int[][] DcKernels =
    {
        K(-2, -6, -8, -6, -2, /**/ -6, 6, 42, 6, -6, /**/ -8, 42, 152, 42, -8, /**/ -6, 6, 42, 6, -6, /**/ -2, -6, -8, -6, -2),
        K(-1, -1, 0, 1, 1, /**/ -3, 13, 0, -13, 3, /**/ -3, 38, 0, -38, 3, /**/ -3, 13, 0, -13, 3, /**/ -1, -1, 0, 1, 1),
        K(-1, -3, -3, -3, -1, /**/ -1, 13, 38, 13, -1, /**/ 0, 0, 0, 0, 0, /**/ 1, -13, -38, -13, 1, /**/ 1, 3, 3, 3, 1),
        K(0, 0, 1, 0, 0, /**/ 0, 2, 7, 2, 0, /**/ 0, -5, -14, -5, 0, /**/ 0, 2, 7, 2, 0, /**/ 0, 0, 1, 0, 0),
        K(-1, 0, 0, 0, 1, /**/ 0, 9, 0, -9, 0, /**/ 0, 0, 0, 0, 0, /**/ 0, -9, 0, 9, 0, /**/ 1, 0, 0, 0, -1),
        K(0, 0, 0, 0, 0, /**/ 0, 2, -5, 2, 0, /**/ 1, 7, -14, 7, 1, /**/ 0, 2, -5, 2, 0, /**/ 0, 0, 0, 0, 0),
        K(0, 0, 0, 0, 0, /**/ 0, 1, 0, -1, 0, /**/ 0, 2, 0, -2, 0, /**/ 0, 1, 0, -1, 0, /**/ 0, 0, 0, 0, 0),
        K(0, 0, 0, 0, 0, /**/ 0, 1, -3, 1, 0, /**/ 0, 0, 0, 0, 0, /**/ 0, -1, 3, -1, 0, /**/ 0, 0, 0, 0, 0),
        K(0, 0, 0, 0, 0, /**/ 0, 1, 0, -1, 0, /**/ 0, -3, 0, 3, 0, /**/ 0, 1, 0, -1, 0, /**/ 0, 0, 0, 0, 0),
        K(0, 0, 0, 0, 0, /**/ 0, 1, 2, 1, 0, /**/ 0, 0, 0, 0, 0, /**/ 0, -1, -2, -1, 0, /**/ 0, 0, 0, 0, 0),
    };

    private static int[] K(params int[] weights) => weights;

    /// <summary>Transforms every component's real blocks into its plane, smoothing where libjpeg would.</summary>
    public static void TransformAll(JpegFrame frame, short[] coefficients, CancellationToken ct)
    {
        bool smooth = Applies(frame);
        var workspace = new short[64];
        var dc = new int[25];
        foreach (var c in frame.Components)
        {
            for (int row = 0; row < c.HeightInBlocks; row++)
            {
                ct.ThrowIfCancellationRequested();
                int outRow = row * 8 * c.PlaneStride;
                if (!smooth)
                {
                    for (int col = 0; col < c.WidthInBlocks; col++)
                    {
                        JpegIdct.Transform(coefficients.AsSpan(c.BlockOffset(col, row), 64), c.IdctQuant, c.Plane, outRow + col * 8, c.PlaneStride);
                    }

                    continue;
                }

                var rows = NeighbourRows(frame, c, row);
                for (int col = 0; col < c.WidthInBlocks; col++)
                {
                    ShiftDcWindow(c, coefficients, rows, col, dc);
                    coefficients.AsSpan(c.BlockOffset(col, row), 64).CopyTo(workspace);
                    Estimate(c, dc, workspace);
                    JpegIdct.Transform(workspace, c.IdctQuant, c.Plane, outRow + col * 8, c.PlaneStride);
                }
            }
        }
    }

    /// <summary>
    /// libjpeg's smoothing_ok: progressive, every component's table latched with non-zero multipliers at the ten
    /// positions the formulas divide by, every DC at least partly known, and some coefficient 1–9 not fully known.
    /// </summary>
    private static bool Applies(JpegFrame frame)
    {
        if (!frame.Progressive)
        {
            return false;
        }

        bool useful = false;
        foreach (var c in frame.Components)
        {
            if (c.Quant is not { } q || c.CoefBits[0] < 0)
            {
                return false;
            }

            for (int k = 0; k < 10; k++)
            {
                if (q[JpegZigzag.Natural[k]] == 0)
                {
                    return false;
                }
            }

            for (int k = 1; k < 10; k++)
            {
                useful |= c.CoefBits[k] != 0;
            }
        }

        return useful;
    }

    /// <summary>
    /// The block rows libjpeg reads as rows −2…+2 of block row <paramref name="row"/>: it only sees the iMCU rows it
    /// has buffered, so a neighbour two rows away is replaced by the one-row neighbour unless the iMCU structure puts
    /// it in reach, and a missing neighbour by the row itself.
    /// </summary>
    private static int[] NeighbourRows(JpegFrame frame, JpegComponent c, int row)
    {
        int imcu = row / c.V, inRow = row % c.V, last = frame.McuRows - 1;
        int rowsHere = imcu < last ? c.V : (c.HeightInBlocks % c.V is 0 ? c.V : c.HeightInBlocks % c.V);
        int prev = inRow > 0 || imcu > 0 ? row - 1 : row;
        int prevPrev = inRow > 1 || imcu > 1 ? row - 2 : prev;
        int next = inRow < rowsHere - 1 || imcu < last ? row + 1 : row;
        int nextNext = inRow < rowsHere - 2 || imcu + 1 < last ? row + 2 : next;
        return new[] { prevPrev, prev, row, next, nextNext };
    }

    /// <summary>
    /// Moves the 5×5 window of DC values to column <paramref name="col"/> the way libjpeg's sliding registers do: all
    /// start at column 0, column 1 enters at the first block if there is one, column col+2 enters while it is before
    /// the last column, and otherwise the rightmost register keeps its value (on 2-block-wide rows that is column 0).
    /// </summary>
    private static void ShiftDcWindow(JpegComponent c, short[] coefficients, int[] rows, int col, int[] dc)
    {
        int lastColumn = c.WidthInBlocks - 1;
        for (int i = 0; i < 5; i++)
        {
            if (col == 0)
            {
                Array.Fill(dc, coefficients[c.BlockOffset(0, rows[i])], i * 5, 5);
                if (lastColumn > 0)
                {
                    dc[i * 5 + 3] = coefficients[c.BlockOffset(1, rows[i])];
                }
            }
            else
            {
                Array.Copy(dc, i * 5 + 1, dc, i * 5, 4);
            }

            if (col + 1 < lastColumn)
            {
                dc[i * 5 + 4] = coefficients[c.BlockOffset(col + 2, rows[i])];
            }
        }
    }

    private static void Estimate(JpegComponent c, int[] dc, short[] workspace)
    {
        var bits = c.CoefBits;
        var q = c.Quant!;
        bool changeDc = true;
        for (int k = 1; k < 10; k++)
        {
            changeDc &= bits[k] == -1;
        }

        int count = changeDc ? 10 : 6;
        for (int k = 1; k < count; k++)
        {
            int pos = JpegZigzag.Natural[k];
            if (bits[k] != 0 && workspace[pos] == 0)
            {
                workspace[pos] = Predict(Weigh(changeDc ? DcKernels[k] : AcKernels[k], dc) * (long)q[0], q[pos], bits[k]);
            }
        }

        if (changeDc)
        {
            workspace[0] = Predict(Weigh(DcKernels[0], dc) * (long)q[0], q[0], 0);
        }
    }

    private static int Weigh(int[] kernel, int[] dc)
    {
        int sum = 0;
        for (int i = 0; i < 25; i++)
        {
            sum += kernel[i] * dc[i];
        }

        return sum;
    }

    /// <summary>
    /// num / (q·256) rounded half away from zero, as a coefficient of quantization step q; while bit Al is the lowest
    /// known (Al &gt; 0) the estimate's magnitude stays below 2^Al, since a larger value would have been sent.
    /// </summary>
    private static short Predict(long num, long q, int al)
    {
        int pred = (int)(((q << 7) + Math.Abs(num)) / (q << 8));
        if (al > 0 && pred >= 1 << al)
        {
            pred = (1 << al) - 1;
        }

        return unchecked((short)(num >= 0 ? pred : -pred));
    }
}
