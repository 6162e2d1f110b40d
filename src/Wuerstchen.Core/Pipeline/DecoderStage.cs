using Wuerstchen.Core.Noise;

namespace Wuerstchen.Core;

/// <summary>
/// The decoder stage: embeddings → decoder (Stage B) → VQGAN (Stage A) → 8-bit RGB images (diffusers'
/// WuerstchenDecoderPipeline, reference §6–7). Owns the stream-continuation rule: embeddings that carry a noise stream
/// (and no explicit seed is given) continue it, so the rows get exactly the noise the one-shot pipeline gives them;
/// they must all come from the same batch. Otherwise a fresh generator is seeded (settings.Seed, else the embedding's
/// seed) for the group. Callers that group embeddings (ConvertFrom-WuerstchenEmbedding) ask
/// <see cref="ContinuesStream"/>, <see cref="SharesStream"/> and <see cref="IsWholeBatch"/>.
/// </summary>
public sealed class DecoderStage
{
    private readonly NetworkSessions _sessions;
    private readonly Action<PipelineProgress>? _progress;

    internal DecoderStage(NetworkSessions sessions, Action<PipelineProgress>? progress)
    {
        _sessions = sessions;
        _progress = progress;
    }

    /// <summary>True when <paramref name="e"/> continues its batch's noise stream when decoded with <paramref name="seed"/> (null: no explicit seed).</summary>
    public static bool ContinuesStream(WuerstchenEmbedding e, long? seed) => seed is null && e.Stream is not null;

    /// <summary>True when both carry the same stream (same batch, same generator state): they may be decoded together, continuing it.</summary>
    public static bool SharesStream(WuerstchenEmbedding a, WuerstchenEmbedding b) =>
        a.Stream is { } s && b.Stream is { } t && s.BatchId == t.BatchId && s.State == t.State;

    /// <summary>True when <paramref name="group"/> is a whole batch of one stream, rows 0…n−1 in order: nothing else of it can follow.</summary>
    public static bool IsWholeBatch(IReadOnlyList<WuerstchenEmbedding> group) =>
        group.Count > 0 && group[^1].Stream is { } last && group.Count == last.Rows
        && group.Select(e => e.Stream?.Row ?? -1).SequenceEqual(Enumerable.Range(0, last.Rows));

    /// <summary>
    /// Embeddings → images, yielded one at a time as the VQGAN decodes them, so a caller writes each before the next is
    /// decoded and the images of a batch are never all held at once. Everything that can be checked (settings, the
    /// embeddings, sizes, the batch's memory) is checked here, before the first image is asked for; the caller disposes
    /// each image (its pixels go back to the pool) and the sequence (the rest is dropped).
    /// </summary>
    internal IEnumerable<GeneratedImage> Run(IReadOnlyList<WuerstchenEmbedding> embeddings, DecoderSettings settings, CancellationToken cancellationToken)
    {
        var model = _sessions.Model;
        settings = settings.WithDefaults(model.Family);
        settings.Validate();
        CheckGroup(embeddings, model.Family);
        var first = embeddings[0];
        var size = ImageSize.FromPrior(first.LatentWidth, first.LatentHeight, model.Config);
        CheckDecoderSize(size, first, model.Family);
        BatchMemory.CheckDecoder(embeddings.Count, size, settings.DecoderGuidanceScale > 1f);
        return Decode(embeddings, settings, size, cancellationToken);
    }

    private IEnumerable<GeneratedImage> Decode(IReadOnlyList<WuerstchenEmbedding> embeddings, DecoderSettings settings, LatentSize size, CancellationToken cancellationToken)
    {
        var model = _sessions.Model;
        int rows = embeddings.Count;
        int perRow = 4 * size.DecoderHeight * size.DecoderWidth;
        var (noise, seed) = DecoderNoise(embeddings, settings, perRow);
        var latents = _sessions.Buffers.Rent<float>(checked(rows * perRow));
        try
        {
            noise.Next(latents);
            Sample(embeddings, settings, size, noise, latents, cancellationToken);
            _sessions.Release(NetworkKind.Decoder, NetworkKind.DecoderTextEncoder);
            using (var lease = _sessions.Lease(NetworkKind.Vqgan))
            {
                var vqgan = new VqganNetwork(lease.Session, model.Config.VqganScaleFactor, _sessions.Buffers);
                int r = 0;
                foreach (var pixels in vqgan.Decode(latents, rows, size, (row, total) => _progress?.Invoke(new PipelineProgress("VQGAN", row, total, total) { IsLast = row == total }), cancellationToken))
                {
                    yield return new GeneratedImage
                    {
                        Pixels = pixels,
                        Width = size.OutputWidth,
                        Height = size.OutputHeight,
                        Embedding = embeddings[r],
                        Seed = seed,
                        Decoder = settings,
                        ModelName = model.Name,
                        ModelFamily = model.Family.Name,
                        Pool = _sessions.Buffers, // Dispose gives the pixels back for the next image
                    };
                    r++;
                }
            }

            _sessions.Release(NetworkKind.Vqgan);
        }
        finally
        {
            _sessions.Buffers.Return(latents);
        }
    }

    /// <summary>Denoises <paramref name="latents"/> (the initial noise) with the decoder, conditioned on the embeddings and the texts.</summary>
    private void Sample(IReadOnlyList<WuerstchenEmbedding> embeddings, DecoderSettings settings, LatentSize size, NoiseSource noise, float[] latents, CancellationToken ct)
    {
        int rows = embeddings.Count;
        var first = embeddings[0];
        float guidance = settings.DecoderGuidanceScale!.Value;
        var prompts = embeddings.Select(e => settings.Prompt ?? e.Prompt).ToArray();
        var negatives = guidance > 1f ? embeddings.Select(e => settings.NegativePrompt ?? e.NegativePrompt ?? "").ToArray() : null;
        int embRow = 16 * first.LatentHeight * first.LatentWidth;
        var effnet = new float[rows * embRow];
        for (int r = 0; r < rows; r++)
        {
            embeddings[r].Data.CopyTo(effnet, r * embRow);
        }

        var spec = _sessions.Model.Family.Required(NetworkKind.Decoder);
        using var feeds = ConditioningFeeds.Build(_sessions, spec, prompts, negatives, (effnet, new long[] { 16, first.LatentHeight, first.LatentWidth }), ct);
        using var lease = _sessions.Lease(spec);
        CheckSkipResize(lease.Session, size);
        var network = new DiffusionNetwork(lease.Session, spec, _sessions.Buffers);
        feeds.Bind(lease.Session);
        DiffusionSampler.Run(network, latents, rows, new long[] { 4, size.DecoderHeight, size.DecoderWidth }, feeds.Inputs,
            settings.Timesteps(), guidance, DdpmWuerstchenScheduler.For(_sessions.Model.Config), noise,
            (s, t) => _progress?.Invoke(new PipelineProgress("Decoder", s, t, rows)), ct);
    }

    /// <summary>The decoder's noise: continue the prior's stream (same batch, no explicit seed), or start a fresh one.</summary>
    private static (NoiseSource Noise, long Seed) DecoderNoise(IReadOnlyList<WuerstchenEmbedding> embeddings, DecoderSettings settings, int perRow)
    {
        var first = embeddings[0];
        if (ContinuesStream(first, settings.Seed) && embeddings.All(e => SharesStream(e, first)))
        {
            var generator = TorchGenerator.FromState(first.Stream!.State);
            return (new NoiseSource(generator, first.Stream.Rows, embeddings.Select(e => e.Stream!.Row).ToArray(), perRow), first.Seed);
        }

        if (settings.Seed is null && embeddings.Any(e => e.Stream is not null))
        {
            throw new WuerstchenException("MixedEmbeddingBatches", WuerstchenErrorKind.InvalidArgument,
                "Embeddings that continue a generator stream must be decoded with the others of their own batch.", embeddings);
        }

        long seed = settings.Seed ?? first.Seed;
        return (new NoiseSource(new TorchGenerator(unchecked((ulong)seed)), embeddings.Count, null, perRow), seed);
    }

    /// <summary>Embeddings decoded together: at least one, each valid for this family, all of one size.</summary>
    private static void CheckGroup(IReadOnlyList<WuerstchenEmbedding> embeddings, ModelFamily family)
    {
        if (embeddings is null || embeddings.Count == 0)
        {
            throw new WuerstchenException("EmptyEmbedding", WuerstchenErrorKind.InvalidArgument, "No embedding was given.", embeddings);
        }

        var first = embeddings[0];
        foreach (var e in embeddings)
        {
            Validate(e, family);
            if (e.LatentHeight != first.LatentHeight || e.LatentWidth != first.LatentWidth)
            {
                throw new WuerstchenException("EmbeddingSizeMismatch", WuerstchenErrorKind.InvalidArgument,
                    $"Embeddings decoded together must have one size; got [{string.Join(",", first.Shape)}] and [{string.Join(",", e.Shape)}].", e);
            }
        }
    }

    /// <summary>Checks one embedding before decoding: its texts (they go to the decoder's text encoder), shape, finite values, made by this family's prior.</summary>
    internal static void Validate(WuerstchenEmbedding e, ModelFamily family)
    {
        if (e is null)
        {
            throw new WuerstchenException("InvalidEmbedding", WuerstchenErrorKind.InvalidArgument, "An embedding is null.", null);
        }

        PromptText.Check(e.Prompt, "The embedding's Prompt");
        PromptText.Check(e.NegativePrompt, "The embedding's NegativePrompt");

        // v2 embeddings are 42·x − 1 of a v2 prior, Stable Cascade's the raw Stage C latents: different spaces
        if (e.Family is { } made && made != family.Name)
        {
            var madeName = ModelContract.Current.Families.TryGetValue(made, out var f) ? f.DisplayName : made;
            throw new WuerstchenException("EmbeddingFamilyMismatch", WuerstchenErrorKind.InvalidArgument,
                $"The embedding for '{IO.TextExcerpt.Of(e.Prompt)}' was made by a {madeName} prior; this model is {family.DisplayName}, whose decoder reads a different embedding space. Decode it with a {madeName} model (-ModelPath), or make a new embedding with this one.", e);
        }

        if (!EmbeddingShape.IsValid(e.Shape, e.Data.Length))
        {
            throw new WuerstchenException("InvalidEmbedding", WuerstchenErrorKind.InvalidArgument,
                $"An embedding must have shape [16,h,w] with 16·h·w values; got shape [{string.Join(",", e.Shape)}] with {e.Data.Length} values.", e);
        }

        foreach (var v in e.Data)
        {
            if (!float.IsFinite(v))
            {
                throw new WuerstchenException("InvalidEmbedding", WuerstchenErrorKind.InvalidData,
                    $"The embedding for '{IO.TextExcerpt.Of(e.Prompt)}' contains a non-finite value ({v}).", e);
            }
        }
    }

    /// <summary>
    /// Off the 128-pixel grid (an image side not a multiple of 128) the decoder's skips disagree after its stride-2
    /// stages and must be resized, as diffusers does; a traced graph does that only if the exporter made the resize
    /// unconditional, which it records as "wuerstchen.skips" = "resized". An older export fails inside ONNX Runtime
    /// with a shape error: say what to do instead.
    /// </summary>
    private static void CheckSkipResize(OnnxSession session, LatentSize size)
    {
        bool onGrid = size.OutputWidth % ImageSize.Step == 0 && size.OutputHeight % ImageSize.Step == 0;
        if (!onGrid && session.Metadata("wuerstchen.skips") != "resized")
        {
            throw new WuerstchenException("DecoderNeedsReexport", WuerstchenErrorKind.InvalidArgument,
                $"A {size.OutputWidth}×{size.OutputHeight} image (decoder latent {size.DecoderWidth}×{size.DecoderHeight}) needs a decoder exported with "
                + $"resized skips, and '{session.Path}' was exported before that: re-export it with models/export, or use sides in 128-pixel steps.",
                $"{size.OutputWidth}x{size.OutputHeight}");
        }
    }

    private static void CheckDecoderSize(LatentSize size, WuerstchenEmbedding e, ModelFamily family)
    {
        // the family's decoder needs H4 and W4 divisible by its multiple: v2 32 (PixelUnshuffle 2 × three stride-2
        // stages, reference §6.1/§9.1), Stable Cascade 2 (its PixelUnshuffle; the contract's "sizes")
        // the size rule of -Width/-Height holds for what an embedding decodes to (a 1.4 MB .npy of 16×150×150 is 6400²)
        if (size.OutputWidth > ImageSize.Max || size.OutputHeight > ImageSize.Max)
        {
            throw new WuerstchenException("InvalidImageSize", WuerstchenErrorKind.InvalidArgument,
                $"An embedding of {e.LatentHeight}×{e.LatentWidth} decodes to a {size.OutputWidth}×{size.OutputHeight} image with this model; images are at most {ImageSize.Max} pixels a side. "
                + $"Make the embedding for {ImageSize.Max} pixels or less (Get-WuerstchenEmbedding -Width/-Height).", e);
        }

        var rule = family.Sizes;
        if (!rule.DecoderTakes(size.DecoderHeight) || !rule.DecoderTakes(size.DecoderWidth))
        {
            string sides = rule.Step == ImageSize.Step ? "multiples of 3 (images in 128-pixel steps)" : $"such that the decoder latent is a multiple of {rule.DecoderLatentMultiple}";
            throw new WuerstchenException("InvalidImageSize", WuerstchenErrorKind.InvalidArgument,
                $"An embedding of {e.LatentHeight}×{e.LatentWidth} gives a decoder latent of {size.DecoderHeight}×{size.DecoderWidth}, which the {family.DisplayName} decoder cannot process; embedding sides must be {sides}.", e);
        }
    }
}
