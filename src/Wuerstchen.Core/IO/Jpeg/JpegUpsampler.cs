namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// Brings each component to the full image size, choosing per component what libjpeg-turbo 2.1's jinit_upsampler
/// chooses with fancy upsampling on (its default, and PIL's): full size as is; half width "fancy" (triangle filter)
/// when the component is more than 2 samples wide, else replicated; half height always fancy (new in 2.1);
/// half width and height fancy when more than 2 samples wide, else replicated; any other integral ratio replicated;
/// fractional ratios refused (libjpeg refuses them too). libjpeg's merged upsampler is not used when fancy
/// upsampling is on. Rows above the first and below the last sample row repeat the edge row, as libjpeg's
/// context rows do (jdmainct.c).
/// </summary>
internal sealed class JpegUpsampler
{
    private enum Method
    {
        FullSize,
        H2V1Fancy,
        H1V2Fancy,
        H2V2Fancy,
        Replicate,
    }

    private readonly JpegFrame _frame;
    private readonly Method[] _methods;
    private readonly int[] _hExpand;
    private readonly int[] _vExpand;
    private readonly byte[][] _rows;
    private readonly int[] _columnSums;

    public JpegUpsampler(JpegFrame frame)
    {
        _frame = frame;
        int n = frame.Components.Length;
        _methods = new Method[n];
        _hExpand = new int[n];
        _vExpand = new int[n];
        _rows = new byte[n][];
        int widest = 0;
        for (int i = 0; i < n; i++)
        {
            var c = frame.Components[i];
            if (frame.MaxH % c.H != 0 || frame.MaxV % c.V != 0)
            {
                throw JpegDecodeException.NotSupported($"its chroma sampling ({c.H}×{c.V} of {frame.MaxH}×{frame.MaxV}) is not an integral ratio");
            }

            _hExpand[i] = frame.MaxH / c.H;
            _vExpand[i] = frame.MaxV / c.V;
            bool wide = c.DownsampledWidth > 2;
            _methods[i] = (_hExpand[i], _vExpand[i]) switch
            {
                (1, 1) => Method.FullSize,
                (2, 1) when wide => Method.H2V1Fancy,
                (1, 2) => Method.H1V2Fancy,
                (2, 2) when wide => Method.H2V2Fancy,
                _ => Method.Replicate,
            };
            _rows[i] = new byte[c.DownsampledWidth * _hExpand[i]];
            widest = Math.Max(widest, c.DownsampledWidth);
        }

        _columnSums = new int[widest];
    }

    /// <summary>Output row <paramref name="y"/> of component <paramref name="index"/> at full size (at least the image width).</summary>
    public ReadOnlySpan<byte> Row(int index, int y)
    {
        var c = _frame.Components[index];
        var plane = c.Plane;
        int stride = c.PlaneStride;
        var output = _rows[index];
        switch (_methods[index])
        {
            case Method.FullSize:
                return plane.AsSpan(y * stride, _frame.Width);
            case Method.H2V1Fancy:
                H2V1(plane.AsSpan(y * stride, c.DownsampledWidth), output);
                return output;
            case Method.H1V2Fancy:
            case Method.H2V2Fancy:
                int near = y >> 1;
                bool below = (y & 1) != 0;
                int far = below ? Math.Min(near + 1, c.DownsampledHeight - 1) : Math.Max(near - 1, 0);
                var nearRow = plane.AsSpan(near * stride, c.DownsampledWidth);
                var farRow = plane.AsSpan(far * stride, c.DownsampledWidth);
                if (_methods[index] == Method.H1V2Fancy)
                {
                    H1V2(nearRow, farRow, below ? 2 : 1, output);
                }
                else
                {
                    H2V2(nearRow, farRow, output);
                }

                return output;
            default:
                int h = _hExpand[index];
                var source = plane.AsSpan(y / _vExpand[index] * stride, c.DownsampledWidth);
                for (int x = 0, o = 0; x < source.Length; x++)
                {
                    for (int k = 0; k < h; k++)
                    {
                        output[o++] = source[x];
                    }
                }

                return output;
        }
    }

    /// <summary>Each sample becomes two: ¾ of itself and ¼ of its nearer neighbour, the end samples copied.</summary>
    private static void H2V1(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int last = input.Length - 1;
        output[0] = input[0];
        output[1] = (byte)((input[0] * 3 + input[1] + 2) >> 2);
        for (int x = 1; x < last; x++)
        {
            int v = input[x] * 3;
            output[2 * x] = (byte)((v + input[x - 1] + 1) >> 2);
            output[2 * x + 1] = (byte)((v + input[x + 1] + 2) >> 2);
        }

        output[2 * last] = (byte)((input[last] * 3 + input[last - 1] + 1) >> 2);
        output[2 * last + 1] = input[last];
    }

    /// <summary>¾ of the nearer row and ¼ of the further one; the rounding bias alternates 1, 2 between the two output rows.</summary>
    private static void H1V2(ReadOnlySpan<byte> near, ReadOnlySpan<byte> far, int bias, Span<byte> output)
    {
        for (int x = 0; x < near.Length; x++)
        {
            output[x] = (byte)((near[x] * 3 + far[x] + bias) >> 2);
        }
    }

    /// <summary>
    /// The vertical ¾/¼ sums of each column, then the horizontal ¾/¼ of those (9/16, 3/16, 3/16, 1/16 overall) with
    /// biases 8 and 7; the outer columns use their own sum on the outside.
    /// </summary>
    private void H2V2(ReadOnlySpan<byte> near, ReadOnlySpan<byte> far, Span<byte> output)
    {
        var sums = _columnSums.AsSpan(0, near.Length);
        for (int x = 0; x < sums.Length; x++)
        {
            sums[x] = near[x] * 3 + far[x];
        }

        int last = sums.Length - 1;
        output[0] = (byte)((sums[0] * 4 + 8) >> 4);
        output[1] = (byte)((sums[0] * 3 + sums[1] + 7) >> 4);
        for (int x = 1; x < last; x++)
        {
            int v = sums[x] * 3;
            output[2 * x] = (byte)((v + sums[x - 1] + 8) >> 4);
            output[2 * x + 1] = (byte)((v + sums[x + 1] + 7) >> 4);
        }

        output[2 * last] = (byte)((sums[last] * 3 + sums[last - 1] + 8) >> 4);
        output[2 * last + 1] = (byte)((sums[last] * 4 + 7) >> 4);
    }
}
