using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Wuerstchen.Core;

/// <summary>
/// The VQGAN (Stage A): decoder latents [1,4,H4,W4] → an image [1,3,4·H4,4·W4] in [0, 1]. Owns its port names, the
/// shape check of its output and the conversion to 8-bit RGB.
/// </summary>
internal sealed class VqganNetwork
{
    private const string Input = "sample";
    private const string Output = "image";

    private readonly OnnxSession _session;
    private readonly float _scale;
    private readonly BufferPool _pool;

    /// <param name="scale">The latents' scale before decoding (model_index.json's vqgan scale factor, 0.3764 for v2).</param>
    public VqganNetwork(OnnxSession session, float scale, BufferPool pool)
    {
        _session = session;
        _scale = scale;
        _pool = pool;
    }

    /// <summary>
    /// clamp(vqgan(scale · latents), 0, 1) → round(255·v), one row at a time to bound memory; each row's 8-bit
    /// conversion runs on a pool thread while the next row's VQGAN runs. The pixel buffers are pooled
    /// (GeneratedImage.Dispose gives them back). <paramref name="onRow"/> gets (rows done, rows). One function (~65
    /// lines): the overlap of run and conversion and its clean-up on failure are one piece of logic.
    /// </summary>
    public byte[][] Decode(float[] latents, int rows, LatentSize size, Action<int, int>? onRow, CancellationToken ct)
    {
        var result = new byte[rows][];
        int perRow = 4 * size.DecoderHeight * size.DecoderWidth;
        using var input = new BoundTensor(_pool, _session.ElementType(Input), new long[] { 1, 4, size.DecoderHeight, size.DecoderWidth });
        var names = new[] { Input };
        var values = new[] { input.Value };
        var outputNames = new[] { Output };
        Task? converting = null;
        void Finish(int row)
        {
            // the 8-bit conversion of the previous image ran on a pool thread while this image's VQGAN ran
            converting?.GetAwaiter().GetResult();
            converting = null;
            onRow?.Invoke(row + 1, rows);
        }

        try
        {
            for (int r = 0; r < rows; r++)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(latents.AsSpan(r * perRow, perRow), _scale, input.Data.AsSpan(0, perRow));
                input.Push();
                var outputs = _session.Run(names, values, outputNames, ct);
                var rgb = _pool.Rent<byte>(3 * size.OutputHeight * size.OutputWidth);
                try
                {
                    CheckShape(outputs.First(), size);
                    if (r > 0)
                    {
                        Finish(r - 1);
                    }
                }
                catch
                {
                    outputs.Dispose();
                    throw;
                }

                result[r] = rgb;
                converting = Task.Run(() =>
                {
                    using (outputs)
                    {
                        ToRgb(outputs.First(), size, rgb, $"for image {r + 1} of {rows}");
                    }
                });
            }

            Finish(rows - 1);
        }
        finally
        {
            // never leave a conversion running on a buffer that is about to be released
            try
            {
                converting?.Wait();
            }
            catch (AggregateException)
            {
                // already failing: the first exception wins
            }
        }

        return result;
    }

    private void CheckShape(OrtValue output, LatentSize size)
    {
        var shape = output.GetTensorTypeAndShape().Shape;
        if (shape.Length != 4 || shape[0] != 1 || shape[1] != 3 || shape[2] != size.OutputHeight || shape[3] != size.OutputWidth)
        {
            throw new WuerstchenException("ModelContractMismatch", WuerstchenErrorKind.InvalidData,
                $"The VQGAN network '{_session.Path}' returned an image of shape [{string.Join(",", shape)}]; expected [1,3,{size.OutputHeight},{size.OutputWidth}].", _session.Path);
        }
    }

    /// <summary>VQGAN output [1,3,H,W] → 8-bit RGB; float32 straight from ONNX Runtime's buffer (no 12 MB copy per 1024² image).</summary>
    private void ToRgb(OrtValue output, LatentSize size, byte[] rgb, string where)
    {
        int count = 3 * size.OutputHeight * size.OutputWidth;
        if (output.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float)
        {
            var image = output.GetTensorDataAsSpan<float>();
            OutputChecks.EnsureFinite(image[..count], _session, where);
            ImageConversion.ChwToRgb8(image, size.OutputWidth, size.OutputHeight, rgb);
            return;
        }

        var chw = _pool.Rent<float>(count);
        try
        {
            OnnxSession.ReadFloats(output, chw);
            OutputChecks.EnsureFinite(chw.AsSpan(0, count), _session, where);
            ImageConversion.ChwToRgb8(chw, size.OutputWidth, size.OutputHeight, rgb);
        }
        finally
        {
            _pool.Return(chw);
        }
    }
}
