using Wuerstchen.Core.Noise;

namespace Wuerstchen.Core;

/// <summary>
/// The prior stage (Stage C): prompts → image embeddings, one per image, prompt-major then image-minor, each carrying
/// the noise stream for the decoder stage to continue (diffusers' WuerstchenPriorPipeline, reference §3–5).
/// </summary>
internal sealed class PriorStage
{
    private readonly NetworkSessions _sessions;
    private readonly Action<PipelineProgress>? _progress;

    public PriorStage(NetworkSessions sessions, Action<PipelineProgress>? progress)
    {
        _sessions = sessions;
        _progress = progress;
    }

    /// <summary>Tests: the latents the first prior step is given, and its timestep.</summary>
    internal Action<float[], float>? StartObserved { get; init; }

    public IReadOnlyList<WuerstchenEmbedding> Run(PriorSettings settings, CancellationToken cancellationToken)
    {
        var model = _sessions.Model;
        settings = settings.WithDefaults(model.Family);
        settings.Validate();
        var size = settings.CheckSize(model.Config);
        if (size.OutputWidth != settings.Width || size.OutputHeight != settings.Height)
        {
            // Stable Cascade runs sides off the 128-pixel grid as diffusers does: the image is 4 · floor(ceil(H / 42.67) · 10.67)
            _sessions.Warning?.Invoke($"{settings.Width}×{settings.Height} gives a {size.OutputWidth}×{size.OutputHeight} image with {model.Family.DisplayName} "
                + $"(latents of ceil(side / {model.Config.ResolutionMultiple}) as diffusers' pipelines make them); 128-pixel steps give exactly the size asked for.");
        }

        int n = settings.ImagesPerPrompt;
        int rows = settings.Prompts.Count * n;
        var rowPrompts = Enumerable.Range(0, rows).Select(r => settings.Prompts[r / n]).ToArray();
        var generator = new TorchGenerator(unchecked((ulong)settings.Seed));
        int perRow = 16 * size.PriorHeight * size.PriorWidth;
        BatchMemory.CheckPrior(rows, size, settings.PriorGuidanceScale > 1f); // before anything is allocated or loaded
        var init = settings.InitImage is { } initPath ? PlanInitImage(initPath, settings, size, cancellationToken) : null;
        var latents = _sessions.Buffers.Rent<float>(checked(rows * perRow));
        try
        {
            Sample(settings, rowPrompts, size, generator, latents, init, cancellationToken);
            _sessions.Release(NetworkKind.Prior, NetworkKind.PriorTextEncoder);
            if (init is { Steps: 0 })
            {
                init.CopyInto(latents.AsSpan(0, rows * perRow)); // no step ran: the image's embedding, unchanged
            }
            else
            {
                ToDecoderSpace(latents, model.Config);
            }

            return Embeddings(settings, rowPrompts, size, latents, new NoiseStream(Guid.NewGuid(), generator.State, 0, rows));
        }
        finally
        {
            _sessions.Buffers.Return(latents);
        }
    }

    /// <summary>
    /// img2img's plan: the timesteps that run and, below strength 1, the init image's embedding at the request's size
    /// (the EfficientNet encoder, loaded and with low memory released before the text encoder).
    /// </summary>
    private InitImage PlanInitImage(string path, PriorSettings settings, LatentSize size, CancellationToken ct)
    {
        IO.ImageLoader.Identify(path); // even at strength 1, where it is not encoded: a file that is no image is an error
        return InitImage.Plan(path, settings.Strength ?? PriorSettings.DefaultStrength, settings.Timesteps(), p =>
        {
            var (data, encoded) = EffnetNetwork.EncodeFile(_sessions, p, size.OutputWidth, size.OutputHeight, _sessions.Warning, ct);
            return encoded.PriorWidth == size.PriorWidth && encoded.PriorHeight == size.PriorHeight ? data
                : throw new InvalidOperationException($"The init image was encoded at {encoded.PriorWidth}×{encoded.PriorHeight} latents, not {size.PriorWidth}×{size.PriorHeight}.");
        });
    }

    /// <summary>
    /// Fills <paramref name="latents"/> with the initial noise (img2img: the init image noised to its start) and
    /// denoises them with the prior. The initial noise is drawn even when no step runs, so the stream the decoder
    /// continues is the same whatever the strength.
    /// </summary>
    private void Sample(PriorSettings settings, string[] rowPrompts, LatentSize size, TorchGenerator generator, float[] latents, InitImage? init, CancellationToken ct)
    {
        var timesteps = init?.Timesteps ?? settings.Timesteps();
        if (timesteps.Length < 2)
        {
            generator.Randn(latents.AsSpan(0, rowPrompts.Length * 16 * size.PriorHeight * size.PriorWidth));
            return;
        }

        int rows = rowPrompts.Length;
        float guidance = settings.PriorGuidanceScale!.Value;
        var negatives = guidance > 1f ? Enumerable.Repeat(settings.NegativePrompt ?? "", rows).ToArray() : null;
        var spec = _sessions.Model.Family.Required(NetworkKind.Prior);
        var images = settings.ImagePrompts is { Count: > 0 } paths ? EncodeImages(paths, ct) : default((float[], int, int)?);
        using var feeds = ConditioningFeeds.Build(_sessions, spec, rowPrompts, negatives, null, ct, images); // text first: see Build
        using var lease = _sessions.Lease(spec);
        var network = new DiffusionNetwork(lease.Session, spec, _sessions.Buffers);
        feeds.Bind(lease.Session);
        generator.Randn(latents);
        var scheduler = DdpmWuerstchenScheduler.For(_sessions.Model.Config);
        if (init is { Noised: true })
        {
            init.NoiseInto(latents, scheduler, _sessions.Model.Config);
        }

        StartObserved?.Invoke(latents, timesteps[0]);
        var noise = new NoiseSource(generator, rows, null, 16 * size.PriorHeight * size.PriorWidth);
        DiffusionSampler.Run(network, latents, rows, new long[] { 16, size.PriorHeight, size.PriorWidth }, feeds.Inputs, timesteps, guidance,
            scheduler, noise, (s, t) => _progress?.Invoke(new PipelineProgress("Prior", s, t, rows)), ct);
    }

    /// <summary>
    /// The image prompts' image_embeds (Stable Cascade image variation), before the prior is leased; with low memory the
    /// image encoder is released at once. A family or folder without an image encoder says so before any image is read.
    /// </summary>
    private (float[] Values, int Count, int Width) EncodeImages(IReadOnlyList<string> paths, CancellationToken ct)
    {
        var model = _sessions.Model;
        var spec = model.Family.Required(NetworkKind.ImageEncoder);
        var path = model.NetworkPath(NetworkKind.ImageEncoder);
        if (!File.Exists(path))
        {
            throw new WuerstchenException("ImageEncoderNotFound", WuerstchenErrorKind.ObjectNotFound,
                $"-ImagePrompt needs the prior's CLIP image encoder, but the model folder '{model.Root}' has no {spec.Folder}/model.onnx. "
                + "Re-export the prior with the current exporter (models/export) from a Stable Cascade prior repository that has image_encoder/ and feature_extractor/ (stabilityai/stable-cascade-prior has both).", path);
        }

        var settings = model.Config.ImageSettings() ?? throw new WuerstchenException("FeatureExtractorNotFound", WuerstchenErrorKind.InvalidData,
            $"The model folder '{model.Root}' has an image encoder but its model_index.json has no 'feature_extractor' (how images are prepared for it); re-export the model with the current exporter.", model.Root);
        (float[] Values, int Width) embeds;
        using (var lease = _sessions.Lease(spec))
        {
            embeds = new ImageEncoderNetwork(lease.Session, _sessions.Buffers, settings).Encode(paths, ct, _sessions.Warning);
        }

        _sessions.Release(NetworkKind.ImageEncoder);
        return (embeds.Values, paths.Count, embeds.Width);
    }

    /// <summary>
    /// E = latent_mean · x − latent_std: v2's 42·x − 1 undoes the prior's training normalisation; Stable Cascade's
    /// family constants are 1 and 0 (its decoder reads the prior's latents as they are), and 1·x − 0 is exact.
    /// </summary>
    private static void ToDecoderSpace(float[] latents, ModelConfig config)
    {
        float mean = config.LatentMean, std = config.LatentStd;
        if (mean != 1f || std != 0f)
        {
            for (int i = 0; i < latents.Length; i++)
            {
                latents[i] = latents[i] * mean - std;
            }
        }
    }

    /// <summary>One embedding per row, each owning a copy of its latents and carrying its place in the batch's stream.</summary>
    private WuerstchenEmbedding[] Embeddings(PriorSettings settings, string[] rowPrompts, LatentSize size, float[] latents, NoiseStream stream)
    {
        var model = _sessions.Model;
        int rows = rowPrompts.Length;
        int perRow = 16 * size.PriorHeight * size.PriorWidth;
        var result = new WuerstchenEmbedding[rows];
        var request = GenerationParameters.OfPrior(settings, size, model.Name, model.Family.Name);
        for (int r = 0; r < rows; r++)
        {
            result[r] = request.ForRow(settings, r).ToEmbedding(new[] { 16, size.PriorHeight, size.PriorWidth }, latents.AsSpan(r * perRow, perRow).ToArray(), stream with { Row = r });
        }

        return result;
    }
}
