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

    private readonly int _height, _width;

    public ImageEncoderNetwork(OnnxSession session, BufferPool pool, ClipImageSettings settings)
    {
        _session = session;
        _pool = pool;
        _settings = settings;
        (_height, _width) = CheckSettings(session, settings);
    }

    /// <summary>
    /// The images' image_embeds, image after image: [n, P] as one array (P from the network's output).
    /// <paramref name="warn"/> hears of a JPEG whose kind the PIL-exact decoder refuses (it is decoded by ImageSharp).
    /// </summary>
    public (float[] Values, int Width) Encode(IReadOnlyList<string> paths, CancellationToken ct, Action<string>? warn = null)
    {
        float[]? all = null;
        int width = 0;
        for (int i = 0; i < paths.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var pixels = ClipImagePreprocessor.Load(paths[i], _settings, out var fallback, ct); // [3, _height, _width]: CheckSettings
            if (fallback is not null)
            {
                warn?.Invoke($"The image prompt '{IO.TextExcerpt.Of(Path.GetFileName(paths[i]))}' is a JPEG decoded with ImageSharp, not as diffusers (PIL) decodes it, "
                    + $"because {fallback}; its embedding may differ slightly from diffusers'.");
            }

            var embeds = EncodeOne(pixels, paths[i], ct);
            width = embeds.Length;
            all ??= new float[paths.Count * width];
            embeds.CopyTo(all, i * width);
        }

        return (all ?? Array.Empty<float>(), width);
    }

    private float[] EncodeOne(float[] pixels, string path, CancellationToken ct)
    {
        using var input = new BoundTensor(_pool, _session.ElementType(Input), new long[] { 1, 3, _height, _width });
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

    /// <summary>
    /// The input size the encoder takes (its position embeddings fix it), checked against the feature extractor: its
    /// crop, or — without a centre crop — a resize to an exact height and width. A shortest-edge resize without a crop
    /// gives every aspect ratio its own size, which no exported encoder takes.
    /// </summary>
    internal static (int Height, int Width) CheckSettings(OnnxSession session, ClipImageSettings settings)
    {
        int? h = session.FixedDimension(Input, 2), w = session.FixedDimension(Input, 3);
        (int? sh, int? sw) = settings.DoCenterCrop ? (settings.CropHeight, settings.CropWidth)
            : settings.DoResize && settings.ShortestEdge is null ? (settings.ResizeHeight, settings.ResizeWidth) : (null, null);
        if (sh is null || sw is null || (h is { } fh && fh != sh) || (w is { } fw && fw != sw))
        {
            string made = sh is null ? "images of their own aspect ratio (no centre crop, no fixed resize)" : $"{sw}×{sh} pixels";
            throw new WuerstchenException("ImageEncoderSizeMismatch", WuerstchenErrorKind.InvalidData,
                $"The image encoder '{session.Path}' takes {w?.ToString() ?? "?"}×{h?.ToString() ?? "?"} pixels but model_index.json's feature_extractor makes {made}; "
                + "re-export the model so that the two agree.", session.Path);
        }

        return (h ?? sh.Value, w ?? sw.Value);
    }
}
