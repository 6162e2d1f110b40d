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
    /// clamp(vqgan(scale · latents), 0, 1) → round(255·v), one row at a time, each image yielded as soon as it is
    /// converted: a caller that writes it before asking for the next holds at most two images whatever the batch (one
    /// converting on a pool thread while the VQGAN runs the next row, one being written). The pixel buffers are pooled;
    /// a yielded one is the caller's (GeneratedImage.Dispose gives it back), the others go back here, also when the
    /// caller stops early. <paramref name="onRow"/> gets (rows done, rows).
    /// </summary>
    public IEnumerable<byte[]> Decode(float[] latents, int rows, LatentSize size, Action<int, int>? onRow, CancellationToken ct)
    {
        int perRow = 4 * size.DecoderHeight * size.DecoderWidth;
        using var input = new BoundTensor(_pool, _session.ElementType(Input), new long[] { 1, 4, size.DecoderHeight, size.DecoderWidth });
        (Task Task, byte[] Rgb)? converting = null;
        try
        {
            for (int r = 0; r < rows; r++)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(latents.AsSpan(r * perRow, perRow), _scale, input.Data.AsSpan(0, perRow));
                var next = Start(input, size, $"for image {r + 1} of {rows}", ct);
                var done = converting;
                converting = next;
                if (done is { } d)
                {
                    // the image before this one converted while this one's VQGAN ran
                    var rgb = Finish(d, r, rows, onRow);
                    yield return rgb;
                }
            }

            if (converting is { } last)
            {
                converting = null;
                yield return Finish(last, rows, rows, onRow);
            }
        }
        finally
        {
            // never leave a conversion running on a buffer that is about to be released
            if (converting is { } pending)
            {
                try
                {
                    pending.Task.Wait();
                }
                catch (AggregateException)
                {
                    // already failing or stopped: the first exception wins
                }

                _pool.Return(pending.Rgb);
            }
        }
    }

    /// <summary>Runs the VQGAN on the bound input and starts the 8-bit conversion of its output on a pool thread.</summary>
    private (Task Task, byte[] Rgb) Start(BoundTensor input, LatentSize size, string where, CancellationToken ct)
    {
        input.Push();
        var outputs = _session.Run(new[] { Input }, new[] { input.Value }, new[] { Output }, ct);
        try
        {
            CheckShape(outputs.First(), size);
        }
        catch
        {
            outputs.Dispose();
            throw;
        }

        var rgb = _pool.Rent<byte>(3 * size.OutputHeight * size.OutputWidth);
        var task = Task.Run(() =>
        {
            using (outputs)
            {
                ToRgb(outputs.First(), size, rgb, where);
            }
        });
        return (task, rgb);
    }

    /// <summary>Waits for a conversion; its buffer goes back to the pool if the conversion failed.</summary>
    private byte[] Finish((Task Task, byte[] Rgb) conversion, int done, int rows, Action<int, int>? onRow)
    {
        try
        {
            conversion.Task.GetAwaiter().GetResult();
        }
        catch
        {
            _pool.Return(conversion.Rgb);
            throw;
        }

        onRow?.Invoke(done, rows);
        return conversion.Rgb;
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
