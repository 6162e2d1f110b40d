using Microsoft.ML.OnnxRuntime;

namespace Wuerstchen.Core;

/// <summary>
/// The EfficientNet image encoder (v2 only, reference §8): a normalised image [1,3,32h,32w] → an embedding
/// [1,16,h,w] in the decoder's space. Owns its port names and the shape check of its output.
/// </summary>
internal sealed class EffnetNetwork
{
    private const string Input = "image";
    private const string Output = "image_embeddings";

    private readonly OnnxSession _session;
    private readonly BufferPool _pool;

    public EffnetNetwork(OnnxSession session, BufferPool pool)
    {
        _session = session;
        _pool = pool;
    }

    /// <summary>
    /// An image file → its embedding [16, h, w] at a size chosen by <see cref="IO.ImageFit"/> (both sides given: that
    /// size): resized with antialiasing to cover 32h × 32w, centre-cropped (a warning when much is cropped),
    /// ImageNet-normalised and encoded; with low memory the encoder is released at once.
    /// </summary>
    public static (float[] Data, LatentSize Size) EncodeFile(NetworkSessions sessions, string path, int? width, int? height,
        Action<string>? warning, CancellationToken ct)
    {
        var spec = sessions.Model.Family.Required(NetworkKind.Effnet); // say so before reading the image
        var (iw, ih) = IO.ImageLoader.Identify(path);
        var fit = IO.ImageFit.Choose(iw, ih, width, height); // the aspect ratio kept, near the training area
        var size = ImageSize.Compute(fit.Width, fit.Height, sessions.Model.Config);
        if (fit.CropsTooMuch)
        {
            warning?.Invoke($"The image '{path}' ({iw}×{ih}) is encoded at {fit.Width}×{fit.Height}: {fit.CroppedFraction * 100:0} % of it is cropped "
                + "(centre crop) to fit that aspect ratio. Give -Width and -Height closer to the image's aspect ratio, or crop it yourself, to choose what is kept.");
        }

        var pixels = IO.ImageLoader.LoadNormalized(path, 32 * size.PriorWidth, 32 * size.PriorHeight);
        float[] data;
        using (var lease = sessions.Lease(spec))
        {
            data = new EffnetNetwork(lease.Session, sessions.Buffers).Encode(pixels, size, ct);
        }

        sessions.Release(NetworkKind.Effnet);
        return (data, size);
    }

    /// <param name="pixels">[3, 32·h, 32·w], ImageNet-normalised.</param>
    /// <returns>[16, h, w] as float32.</returns>
    public float[] Encode(float[] pixels, LatentSize size, CancellationToken ct)
    {
        int ew = 32 * size.PriorWidth, eh = 32 * size.PriorHeight;
        using var input = new BoundTensor(_pool, _session.ElementType(Input), new long[] { 1, 3, eh, ew });
        pixels.CopyTo(input.Data, 0);
        input.Push();
        using var outputs = _session.Run(new[] { Input }, new[] { input.Value }, new[] { Output }, ct);
        OrtValue output = outputs.First();
        var shape = output.GetTensorTypeAndShape().Shape;
        if (shape.Length != 4 || shape[0] != 1 || shape[1] != 16 || shape[2] != size.PriorHeight || shape[3] != size.PriorWidth)
        {
            throw new WuerstchenException("ModelContractMismatch", WuerstchenErrorKind.InvalidData,
                $"The effnet network '{_session.Path}' returned shape [{string.Join(",", shape)}] for a {ew}×{eh} image; expected [1,16,{size.PriorHeight},{size.PriorWidth}].", _session.Path);
        }

        var data = new float[16 * size.PriorHeight * size.PriorWidth];
        OnnxSession.ReadFloats(output, data);
        OutputChecks.EnsureFinite(data, _session, $"for a {ew}×{eh} image");
        return data;
    }
}
