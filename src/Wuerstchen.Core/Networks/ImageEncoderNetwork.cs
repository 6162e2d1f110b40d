using Microsoft.ML.OnnxRuntime;
using Wuerstchen.Core.Preprocessing;

namespace Wuerstchen.Core;

/// <summary>
/// Stable Cascade's CLIP image encoder (image variation): each image prompt, prepared as the folder's feature extractor
/// says (transformers' CLIPImageProcessor, <see cref="ClipImagePreprocessor"/>), → image_embeds [1, P]. One run per
/// image, as diffusers' StableCascadePriorPipeline.encode_image does. Owns its port names and output checks.
/// </summary>
internal sealed class ImageEncoderNetwork
{
    private const string Input = "pixel_values";
    private const string Output = "image_embeds";

    /// <summary>Image prompts of one request at most: each adds clip_seq (4) tokens to every prior step's attention.</summary>
    public const int MaxImages = 16;

    private readonly OnnxSession _session;
    private readonly BufferPool _pool;
    private readonly ClipImageSettings _settings;

    public ImageEncoderNetwork(OnnxSession session, BufferPool pool, ClipImageSettings settings)
    {
        _session = session;
        _pool = pool;
        _settings = settings;
        CheckInputSize();
    }

    /// <summary>The images' image_embeds, image after image: [n, P] as one array (P from the network's output).</summary>
    public (float[] Values, int Width) Encode(IReadOnlyList<string> paths, CancellationToken ct)
    {
        float[]? all = null;
        int width = 0;
        for (int i = 0; i < paths.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var embeds = EncodeOne(ClipImagePreprocessor.Load(paths[i], _settings), paths[i], ct);
            width = embeds.Length;
            all ??= new float[paths.Count * width];
            embeds.CopyTo(all, i * width);
        }

        return (all ?? Array.Empty<float>(), width);
    }

    private float[] EncodeOne(float[] pixels, string path, CancellationToken ct)
    {
        using var input = new BoundTensor(_pool, _session.ElementType(Input), new long[] { 1, 3, _settings.CropHeight, _settings.CropWidth });
        pixels.CopyTo(input.Data, 0);
        input.Push();
        using var outputs = _session.Run(new[] { Input }, new[] { input.Value }, new[] { Output }, ct);
        OrtValue output = outputs.First();
        var shape = output.GetTensorTypeAndShape().Shape;
        if (shape.Length != 2 || shape[0] != 1 || shape[1] < 1 || shape[1] > 1 << 16)
        {
            throw new WuerstchenException("ModelContractMismatch", WuerstchenErrorKind.InvalidData,
                $"The image encoder '{_session.Path}' returned image_embeds of shape [{string.Join(",", shape)}] for one image; expected [1, width].", _session.Path);
        }

        var data = new float[shape[1]];
        OnnxSession.ReadFloats(output, data);
        OutputChecks.EnsureFinite(data, _session, $"for the image prompt '{IO.TextExcerpt.Of(Path.GetFileName(path))}'");
        return data;
    }

    /// <summary>The feature extractor's crop must be the size the encoder's position embeddings were made for.</summary>
    private void CheckInputSize()
    {
        int? h = _session.FixedDimension(Input, 2), w = _session.FixedDimension(Input, 3);
        if ((h is { } fh && fh != _settings.CropHeight) || (w is { } fw && fw != _settings.CropWidth))
        {
            throw new WuerstchenException("ImageEncoderSizeMismatch", WuerstchenErrorKind.InvalidData,
                $"The image encoder '{_session.Path}' takes {w}×{h} pixels but model_index.json's feature_extractor crops images to "
                + $"{_settings.CropWidth}×{_settings.CropHeight}; re-export the model so that the two agree.", _session.Path);
        }
    }
}
