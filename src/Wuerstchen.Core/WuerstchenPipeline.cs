using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Wuerstchen.Core.Noise;
using Wuerstchen.Core.Text;

namespace Wuerstchen.Core;

/// <summary>
/// The Würstchen v2 pipeline over a model folder: text → prior → embedding, embedding → decoder → VQGAN → pixels.
/// Semantics are those of diffusers' WuerstchenCombinedPipeline in float32 (reference §3–7, §14).
/// Sessions come from a <see cref="SessionCache"/>, so repeated calls reuse loaded networks.
/// </summary>
public sealed class WuerstchenPipeline
{
    private readonly SessionCache _cache;

    public WuerstchenPipeline(ModelFolder model, ExecutionOptions? execution = null, SessionCache? cache = null)
    {
        Model = model;
        Execution = execution ?? ExecutionOptions.Cpu;
        _cache = cache ?? SessionCache.Shared;
    }

    public ModelFolder Model { get; }

    public ExecutionOptions Execution { get; }

    /// <summary>Receives warnings (CUDA fallback, truncated prompts).</summary>
    public Action<string>? Warning { get; init; }

    public Action<PipelineProgress>? Progress { get; init; }

    /// <summary>Releases each stage's sessions as soon as the stage is done (for small GPUs).</summary>
    public bool LowMemory { get; init; }

    /// <summary>Prompt → embeddings, one per image, prompt-major then image-minor, each carrying the noise stream to continue.</summary>
    public IReadOnlyList<WuerstchenEmbedding> RunPrior(PriorSettings settings, CancellationToken cancellationToken = default)
    {
        settings.Validate();
        var config = Model.Config;
        var size = ImageSize.Compute(settings.Width, settings.Height, config);
        var timesteps = settings.Timesteps();
        int n = settings.ImagesPerPrompt;
        int rows = settings.Prompts.Count * n;
        bool cfg = settings.PriorGuidanceScale > 1f;
        string negative = settings.NegativePrompt ?? "";

        var rowPrompts = Enumerable.Range(0, rows).Select(r => settings.Prompts[r / n]).ToArray();
        var (cond, uncond, dim) = EncodeRows(true, rowPrompts, cfg ? Enumerable.Repeat(negative, rows).ToArray() : null, cancellationToken);

        var generator = new TorchGenerator(unchecked((ulong)settings.Seed));
        var rowShape = new long[] { 16, size.PriorHeight, size.PriorWidth };
        int perRow = 16 * size.PriorHeight * size.PriorWidth;
        var latents = BufferPool.Rent<float>(rows * perRow);
        try
        {
            generator.Randn(latents);
            using (var lease = Acquire(StageKind.Prior))
            {
                var conditioning = new[] { new Conditioning("clip_text", cond, uncond, new long[] { config.MaxLength, dim }) };
                var noise = new NoiseSource(generator, rows, null, perRow);
                DiffusionSampler.Run(lease.Stage, latents, rows, rowShape, conditioning, timesteps, settings.PriorGuidanceScale,
                    DdpmWuerstchenScheduler.For(config), noise, (s, t) => Progress?.Invoke(new PipelineProgress("Prior", s, t, rows)), cancellationToken);
            }
        }
        catch
        {
            BufferPool.Return(latents);
            throw;
        }
        finally
        {
            BufferPool.Return(cond);
            BufferPool.Return(uncond);
        }

        Release(StageKind.Prior, StageKind.PriorTextEncoder);

        // E = latent_mean · x − latent_std (= 42·x − 1): undoes the prior's training normalisation
        float mean = config.LatentMean, std = config.LatentStd;
        for (int i = 0; i < latents.Length; i++)
        {
            latents[i] = latents[i] * mean - std;
        }

        var stream = generator.State;
        var batch = Guid.NewGuid();
        var result = new WuerstchenEmbedding[rows];
        for (int r = 0; r < rows; r++)
        {
            result[r] = new WuerstchenEmbedding
            {
                Prompt = rowPrompts[r],
                NegativePrompt = settings.NegativePrompt,
                Seed = settings.Seed,
                Width = size.OutputWidth,
                Height = size.OutputHeight,
                Shape = new[] { 16, size.PriorHeight, size.PriorWidth },
                Data = latents.AsSpan(r * perRow, perRow).ToArray(), // the embedding owns a copy
                PromptIndex = r / n,
                ImageIndex = r % n,
                PriorSteps = settings.PriorTimesteps is null ? settings.PriorSteps : null,
                PriorTimesteps = settings.PriorTimesteps?.ToArray(),
                PriorGuidanceScale = settings.PriorGuidanceScale,
                ModelName = Model.Name,
                Stream = new NoiseStream(batch, stream, r, rows),
            };
        }

        BufferPool.Return(latents);
        return result;
    }

    /// <summary>
    /// Embeddings → images. Embeddings that carry a noise stream (and no explicit seed is given) continue it,
    /// so the rows get exactly the noise the one-shot pipeline gives them; they must all come from the same
    /// batch. Otherwise a fresh generator is seeded (settings.Seed, else the embedding's seed) for this group.
    /// </summary>
    public IReadOnlyList<GeneratedImage> RunDecoder(IReadOnlyList<WuerstchenEmbedding> embeddings, DecoderSettings settings, CancellationToken cancellationToken = default)
    {
        settings.Validate();
        if (embeddings is null || embeddings.Count == 0)
        {
            throw new WuerstchenException("EmptyEmbedding", WuerstchenErrorKind.InvalidArgument, "No embedding was given.", embeddings);
        }

        var config = Model.Config;
        var first = embeddings[0];
        foreach (var e in embeddings)
        {
            ValidateEmbedding(e);
            if (e.LatentHeight != first.LatentHeight || e.LatentWidth != first.LatentWidth)
            {
                throw new WuerstchenException("EmbeddingSizeMismatch", WuerstchenErrorKind.InvalidArgument,
                    $"Embeddings decoded together must have one size; got [{string.Join(",", first.Shape)}] and [{string.Join(",", e.Shape)}].", e);
            }
        }

        int rows = embeddings.Count;
        var size = ImageSize.FromPrior(first.LatentWidth, first.LatentHeight, config);
        CheckDecoderSize(size, first);
        var timesteps = settings.Timesteps();
        bool cfg = settings.DecoderGuidanceScale > 1f;

        // the noise: continue the prior's stream, or start a fresh one
        TorchGenerator generator;
        int streamRows;
        int[]? selected;
        long seed;
        bool continueStream = settings.Seed is null && first.Stream is not null
            && embeddings.All(e => e.Stream is not null && e.Stream.BatchId == first.Stream!.BatchId && e.Stream.State == first.Stream.State);
        if (continueStream)
        {
            generator = TorchGenerator.FromState(first.Stream!.State);
            streamRows = first.Stream.Rows;
            selected = embeddings.Select(e => e.Stream!.Row).ToArray();
            seed = first.Seed;
        }
        else
        {
            if (settings.Seed is null && embeddings.Any(e => e.Stream is not null))
            {
                throw new WuerstchenException("MixedEmbeddingBatches", WuerstchenErrorKind.InvalidArgument,
                    "Embeddings that continue a generator stream must be decoded with the others of their own batch.", embeddings);
            }

            seed = settings.Seed ?? first.Seed;
            generator = new TorchGenerator(unchecked((ulong)seed));
            streamRows = rows;
            selected = null;
        }

        int perRow = 4 * size.DecoderHeight * size.DecoderWidth;
        var latents = BufferPool.Rent<float>(checked(rows * perRow));
        byte[][] images;
        try
        {
            var noise = new NoiseSource(generator, streamRows, selected, perRow);
            noise.Next(latents);

            var prompts = embeddings.Select(e => settings.Prompt ?? e.Prompt).ToArray();
            var negatives = cfg ? embeddings.Select(e => settings.NegativePrompt ?? e.NegativePrompt ?? "").ToArray() : null;
            var (cond, uncond, dim) = EncodeRows(false, prompts, negatives, cancellationToken);
            try
            {
                int embRow = 16 * first.LatentHeight * first.LatentWidth;
                var effnet = new float[rows * embRow];
                for (int r = 0; r < rows; r++)
                {
                    embeddings[r].Data.CopyTo(effnet, r * embRow);
                }

                using var lease = Acquire(StageKind.Decoder);
                var conditioning = new[]
                {
                    // the unconditional branch gets a zero image embedding (reference §6.2)
                    new Conditioning("effnet", effnet, cfg ? new float[effnet.Length] : null, new long[] { 16, first.LatentHeight, first.LatentWidth }),
                    new Conditioning("clip_text", cond, uncond, new long[] { config.MaxLength, dim }),
                };
                DiffusionSampler.Run(lease.Stage, latents, rows, new long[] { 4, size.DecoderHeight, size.DecoderWidth }, conditioning,
                    timesteps, settings.DecoderGuidanceScale, DdpmWuerstchenScheduler.For(config), noise,
                    (s, t) => Progress?.Invoke(new PipelineProgress("Decoder", s, t, rows)), cancellationToken);
            }
            finally
            {
                BufferPool.Return(cond);
                BufferPool.Return(uncond);
            }

            Release(StageKind.Decoder, StageKind.DecoderTextEncoder);
            images = DecodeLatents(latents, rows, size, cancellationToken);
        }
        finally
        {
            BufferPool.Return(latents);
        }

        var result = new GeneratedImage[rows];
        for (int r = 0; r < rows; r++)
        {
            result[r] = new GeneratedImage
            {
                Pixels = images[r],
                Width = size.OutputWidth,
                Height = size.OutputHeight,
                Embedding = embeddings[r],
                Seed = seed,
                Decoder = settings,
                ModelName = Model.Name,
            };
        }

        return result;
    }

    /// <summary>Prompt → images in one go (the embedding stage's stream continues into the decoder).</summary>
    public IReadOnlyList<GeneratedImage> Generate(PriorSettings prior, DecoderSettings decoder, CancellationToken cancellationToken = default)
    {
        prior.Validate();
        decoder.Validate();
        if (decoder.Seed is not null)
        {
            throw new ArgumentException("A one-shot generation continues the prior's noise stream; no decoder seed applies.", nameof(decoder));
        }

        var embeddings = RunPrior(prior, cancellationToken);
        return RunDecoder(embeddings, decoder, cancellationToken);
    }

    /// <summary>
    /// Image → embedding with the EfficientNet encoder (reference §8): the image is resized with
    /// antialiasing and centre-cropped to 32h × 32w for the requested size (default: the image's own size
    /// snapped to 128-pixel steps), normalised with ImageNet statistics and encoded. The result is in the
    /// decoder's space and carries no noise stream.
    /// </summary>
    public WuerstchenEmbedding EncodeImage(string path, int? width, int? height, long seed, CancellationToken cancellationToken = default)
    {
        var (iw, ih) = IO.ImageLoader.Identify(path);
        static int Snap(int v) => Math.Clamp((int)Math.Round(v / (double)ImageSize.Step) * ImageSize.Step, ImageSize.Min, ImageSize.Max);
        int w = width ?? Snap(iw), h = height ?? Snap(ih);
        var size = ImageSize.Compute(w, h, Model.Config);
        int ew = 32 * size.PriorWidth, eh = 32 * size.PriorHeight;
        var pixels = IO.ImageLoader.LoadNormalized(path, ew, eh);
        float[] data;
        using (var lease = Acquire(StageKind.Effnet))
        {
            var stage = lease.Stage;
            ModelValidator.Enforce(stage);
            using var input = new BoundTensor(stage.ElementType("image"), new long[] { 1, 3, eh, ew });
            pixels.CopyTo(input.Data, 0);
            input.Push();
            using var outputs = stage.Run(new[] { "image" }, new[] { input.Value }, new[] { "image_embeddings" }, cancellationToken);
            var output = outputs.First();
            var shape = output.GetTensorTypeAndShape().Shape;
            if (shape.Length != 4 || shape[0] != 1 || shape[1] != 16 || shape[2] != size.PriorHeight || shape[3] != size.PriorWidth)
            {
                throw new WuerstchenException("ModelContractMismatch", WuerstchenErrorKind.InvalidData,
                    $"The effnet network '{stage.Path}' returned shape [{string.Join(",", shape)}] for a {ew}×{eh} image; expected [1,16,{size.PriorHeight},{size.PriorWidth}].", stage.Path);
            }

            data = new float[16 * size.PriorHeight * size.PriorWidth];
            OnnxStage.ReadFloats(output, data);
        }

        Release(StageKind.Effnet);
        return new WuerstchenEmbedding
        {
            Prompt = "",
            Seed = seed,
            Width = size.OutputWidth,
            Height = size.OutputHeight,
            Shape = new[] { 16, size.PriorHeight, size.PriorWidth },
            Data = data,
            ModelName = Model.Name,
            Source = "image:" + path,
        };
    }

    private static void ValidateEmbedding(WuerstchenEmbedding e)
    {
        if (e is null)
        {
            throw new WuerstchenException("InvalidEmbedding", WuerstchenErrorKind.InvalidArgument, "An embedding is null.", null);
        }

        if (e.Shape.Length != 3 || e.Shape[0] != 16 || e.Shape[1] < 1 || e.Shape[2] < 1 || e.Shape[1] > 512 || e.Shape[2] > 512
            || (long)e.Shape[0] * e.Shape[1] * e.Shape[2] != e.Data.Length)
        {
            throw new WuerstchenException("InvalidEmbedding", WuerstchenErrorKind.InvalidArgument,
                $"An embedding must have shape [16,h,w] with 16·h·w values; got shape [{string.Join(",", e.Shape)}] with {e.Data.Length} values.", e);
        }

        foreach (var v in e.Data)
        {
            if (!float.IsFinite(v))
            {
                throw new WuerstchenException("InvalidEmbedding", WuerstchenErrorKind.InvalidData,
                    $"The embedding for '{e.Prompt}' contains a non-finite value ({v}).", e);
            }
        }
    }

    private static void CheckDecoderSize(LatentSize size, WuerstchenEmbedding e)
    {
        // the real decoder needs H4 and W4 divisible by 32 (PixelUnshuffle 2 × three stride-2 stages, reference §6.1/§9.1)
        if (size.DecoderHeight % 32 != 0 || size.DecoderWidth % 32 != 0)
        {
            throw new WuerstchenException("InvalidImageSize", WuerstchenErrorKind.InvalidArgument,
                $"An embedding of {e.LatentHeight}×{e.LatentWidth} gives a decoder latent of {size.DecoderHeight}×{size.DecoderWidth}, which the decoder cannot process; embedding sides must be multiples of 3 (images in 128-pixel steps).", e);
        }
    }

    /// <summary>
    /// Encodes each row's text (and, when guidance is on, each row's negative text) with a text encoder.
    /// The distinct texts are encoded once, in order of first appearance, then gathered per row.
    /// </summary>
    private (float[] Cond, float[]? Uncond, int Dim) EncodeRows(bool prior, string[] texts, string[]? negatives, CancellationToken ct)
    {
        var tokenizer = Model.Tokenizer(prior);
        var distinct = new List<string>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in texts.Concat(negatives ?? Array.Empty<string>()))
        {
            if (!index.ContainsKey(t))
            {
                index[t] = distinct.Count;
                distinct.Add(t);
            }
        }

        float[] encoded;
        int dim;
        using (var lease = Acquire(prior ? StageKind.PriorTextEncoder : StageKind.DecoderTextEncoder))
        {
            (encoded, dim) = TextEncoder.Encode(lease.Stage, tokenizer, distinct, Model.Config.MaxLength, Warning, ct);
            CheckTextWidth(prior, dim);
        }

        int per = Model.Config.MaxLength * dim;
        float[] Gather(string[] list)
        {
            var result = BufferPool.Rent<float>(list.Length * per); // every row is written below
            for (int r = 0; r < list.Length; r++)
            {
                encoded.AsSpan(index[list[r]] * per, per).CopyTo(result.AsSpan(r * per, per));
            }

            return result;
        }

        return (Gather(texts), negatives is null ? null : Gather(negatives), dim);
    }

    private void CheckTextWidth(bool prior, int dim)
    {
        using var lease = Acquire(prior ? StageKind.Prior : StageKind.Decoder);
        if (lease.Stage.FixedDimension("clip_text", 2) is { } expected && expected != dim)
        {
            var te = Model.NetworkPath(prior ? StageKind.PriorTextEncoder : StageKind.DecoderTextEncoder);
            throw new WuerstchenException("TextWidthMismatch", WuerstchenErrorKind.InvalidData,
                $"The text encoder '{te}' produces width {dim} but the {(prior ? "prior" : "decoder")} '{lease.Stage.Path}' expects clip_text width {expected}.", te);
        }
    }

    /// <summary>Stage A: clamp(vqgan(0.3764 · latents), 0, 1) → round(255·v), one row at a time to bound memory.</summary>
    private byte[][] DecodeLatents(float[] latents, int rows, LatentSize size, CancellationToken ct)
    {
        var result = new byte[rows][];
        int perRow = 4 * size.DecoderHeight * size.DecoderWidth;
        using (var lease = Acquire(StageKind.Vqgan))
        {
            var stage = lease.Stage;
            ModelValidator.Enforce(stage);
            using var input = new BoundTensor(stage.ElementType("sample"), new long[] { 1, 4, size.DecoderHeight, size.DecoderWidth });
            var names = new[] { "sample" };
            var values = new[] { input.Value };
            var outputNames = new[] { "image" };
            float scale = Model.Config.VqganScaleFactor;
            Task? converting = null;
            void Finish(int row)
            {
                // the 8-bit conversion of the previous image ran on a pool thread while this image's VQGAN ran
                converting?.GetAwaiter().GetResult();
                converting = null;
                Progress?.Invoke(new PipelineProgress("VQGAN", row + 1, rows, rows));
            }

            try
            {
                for (int r = 0; r < rows; r++)
                {
                    var src = latents.AsSpan(r * perRow, perRow);
                    System.Numerics.Tensors.TensorPrimitives.Multiply(src, scale, input.Data.AsSpan(0, perRow));
                    input.Push();
                    var outputs = stage.Run(names, values, outputNames, ct);
                    var rgb = BufferPool.Rent<byte>(3 * size.OutputHeight * size.OutputWidth);
                    try
                    {
                        var shape = outputs.First().GetTensorTypeAndShape().Shape;
                        if (shape.Length != 4 || shape[0] != 1 || shape[1] != 3 || shape[2] != size.OutputHeight || shape[3] != size.OutputWidth)
                        {
                            throw new WuerstchenException("ModelContractMismatch", WuerstchenErrorKind.InvalidData,
                                $"The VQGAN network '{stage.Path}' returned an image of shape [{string.Join(",", shape)}]; expected [1,3,{size.OutputHeight},{size.OutputWidth}].", stage.Path);
                        }

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

                    // pooled pixels: GeneratedImage.Dispose gives them back for the next call
                    result[r] = rgb;
                    converting = Task.Run(() =>
                    {
                        using (outputs)
                        {
                            ToRgb(outputs.First(), size, rgb);
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
        }

        Release(StageKind.Vqgan);
        return result;
    }

    /// <summary>VQGAN output [1,3,H,W] → 8-bit RGB; float32 straight from ONNX Runtime's buffer (no 12 MB copy per 1024² image).</summary>
    private static void ToRgb(OrtValue output, LatentSize size, byte[] rgb)
    {
        if (output.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float)
        {
            ImageConversion.ChwToRgb8(output.GetTensorDataAsSpan<float>(), size.OutputWidth, size.OutputHeight, rgb);
            return;
        }

        var chw = BufferPool.Rent<float>(3 * size.OutputHeight * size.OutputWidth);
        OnnxStage.ReadFloats(output, chw);
        ImageConversion.ChwToRgb8(chw, size.OutputWidth, size.OutputHeight, rgb);
        BufferPool.Return(chw);
    }

    private SessionLease Acquire(StageKind kind) => _cache.Acquire(kind, Model.NetworkPath(kind), Execution, Warning);

    private void Release(params StageKind[] kinds)
    {
        if (!LowMemory)
        {
            return;
        }

        foreach (var k in kinds)
        {
            _cache.Evict(Model.NetworkPath(k));
        }
    }
}

/// <summary>Runs a CLIP text encoder: input_ids (+ attention_mask when declared) → last_hidden_state.</summary>
internal static class TextEncoder
{
    public static (float[] Hidden, int Dim) Encode(OnnxStage stage, ClipTokenizer tokenizer, IReadOnlyList<string> texts, int maxLength, Action<string>? warn, CancellationToken ct)
    {
        ModelValidator.Enforce(stage);
        bool hasMask = stage.HasInput("attention_mask");

        int b = texts.Count;
        var ids = new long[b * maxLength];
        var mask = new long[b * maxLength];
        for (int i = 0; i < b; i++)
        {
            var tok = tokenizer.Encode(texts[i]);
            if (tok.InputIds.Length != maxLength)
            {
                throw new WuerstchenException("InvalidTokenizer", WuerstchenErrorKind.InvalidData,
                    $"The tokenizer produced {tok.InputIds.Length} ids; the model expects {maxLength}.", tok.InputIds.Length);
            }

            if (tok.Truncated)
            {
                warn?.Invoke($"The prompt '{Shorten(texts[i])}' has {tok.TokenCount} tokens; only the first {maxLength - 2} are used. Dropped: '{Shorten(tok.TruncatedText ?? "")}'.");
            }

            tok.InputIds.CopyTo(ids, i * maxLength);
            tok.AttentionMask.CopyTo(mask, i * maxLength);
        }

        var shape = new long[] { b, maxLength };
        var inputs = new List<OrtValue>();
        try
        {
            inputs.Add(CreateIds(stage.ElementType("input_ids"), ids, shape));
            var names = new List<string> { "input_ids" };
            if (hasMask)
            {
                inputs.Add(CreateIds(stage.ElementType("attention_mask"), mask, shape));
                names.Add("attention_mask");
            }

            using var outputs = stage.Run(names, inputs, new[] { "last_hidden_state" }, ct);
            var output = outputs.First();
            var outShape = output.GetTensorTypeAndShape().Shape;
            if (outShape.Length != 3 || outShape[0] != b || outShape[1] != maxLength || outShape[2] < 1)
            {
                throw new WuerstchenException("ModelContractMismatch", WuerstchenErrorKind.InvalidData,
                    $"The text encoder '{stage.Path}' returned last_hidden_state of shape [{string.Join(",", outShape)}]; expected [{b},{maxLength},D].", stage.Path);
            }

            int dim = (int)outShape[2];
            var hidden = new float[b * maxLength * dim];
            OnnxStage.ReadFloats(output, hidden);
            return (hidden, dim);
        }
        finally
        {
            foreach (var v in inputs)
            {
                v.Dispose();
            }
        }
    }

    private static OrtValue CreateIds(TensorElementType type, long[] ids, long[] shape) =>
        type == TensorElementType.Int32
            ? OrtValue.CreateTensorValueFromMemory(ids.Select(v => (int)v).ToArray(), shape)
            : OrtValue.CreateTensorValueFromMemory(ids, shape);

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";
}

internal static class ImageConversion
{
    /// <summary>[3,H,W] float in (any range) → clamp to [0,1] → round(255·v) (half to even, as torch/numpy) → RGB bytes.</summary>
    /// <remarks>
    /// 16 values at a time where vectors are accelerated, with the same result as <see cref="ToByte"/> for every
    /// float (checked over all 2^32 bit patterns): the comparisons become selects (NaN → 0), and adding and
    /// subtracting 2^23 rounds a value in [0, 255] half to even exactly as MathF.Round does.
    /// </remarks>
    public static void ChwToRgb8(ReadOnlySpan<float> chw, int width, int height, Span<byte> rgb)
    {
        int plane = width * height;
        if (rgb.Length != 3 * plane || chw.Length != 3 * plane)
        {
            throw new ArgumentException($"expected {3 * plane} values in and out; got {chw.Length} and {rgb.Length}.");
        }

        var red = chw.Slice(0, plane);
        var green = chw.Slice(plane, plane);
        var blue = chw.Slice(2 * plane, plane);
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            Span<byte> planar = stackalloc byte[3 * 16];
            for (; i <= plane - 16; i += 16)
            {
                ToBytes16(red.Slice(i, 16)).CopyTo(planar);
                ToBytes16(green.Slice(i, 16)).CopyTo(planar.Slice(16));
                ToBytes16(blue.Slice(i, 16)).CopyTo(planar.Slice(32));
                var dst = rgb.Slice(3 * i, 48);
                for (int k = 0; k < 16; k++)
                {
                    dst[3 * k] = planar[k];
                    dst[3 * k + 1] = planar[16 + k];
                    dst[3 * k + 2] = planar[32 + k];
                }
            }
        }

        for (; i < plane; i++)
        {
            rgb[3 * i] = ToByte(red[i]);
            rgb[3 * i + 1] = ToByte(green[i]);
            rgb[3 * i + 2] = ToByte(blue[i]);
        }

    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte ToByte(float v)
    {
        v = v > 1f ? 1f : v >= 0f ? v : 0f; // NaN → 0
        return (byte)MathF.Round(v * 255f, MidpointRounding.ToEven);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> ToBytes16(ReadOnlySpan<float> src)
    {
        var low = Vector128.Narrow(Scale(Vector128.Create(src)), Scale(Vector128.Create(src.Slice(4))));
        var high = Vector128.Narrow(Scale(Vector128.Create(src.Slice(8))), Scale(Vector128.Create(src.Slice(12))));
        return Vector128.Narrow(low, high);

        static Vector128<uint> Scale(Vector128<float> v)
        {
            v = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(v, Vector128<float>.Zero), v, Vector128<float>.Zero);
            v = Vector128.ConditionalSelect(Vector128.GreaterThan(v, Vector128<float>.One), Vector128<float>.One, v);
            var magic = Vector128.Create(8388608f); // 2^23
            v = (v * Vector128.Create(255f) + magic) - magic;
            return Vector128.ConvertToInt32(v).AsUInt32(); // exact: an integer in [0, 255]
        }
    }
}
