namespace Wuerstchen.Core;

/// <summary>
/// The Würstchen pipeline over a model folder, composed of its two stages: text → <see cref="PriorStage"/> → embedding,
/// embedding → <see cref="DecoderStage"/> (decoder, VQGAN) → pixels; and image → embedding with the EfficientNet
/// encoder. Semantics are those of diffusers' WuerstchenCombinedPipeline (and StableCascadeCombinedPipeline) in float32
/// (reference §3–7, §14). Sessions come from a <see cref="SessionCache"/>, so repeated calls reuse loaded networks.
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

    /// <summary>Receives each network's load: once before (Elapsed null) and once after, so a caller can say "Loading prior…" and how long it took.</summary>
    public Action<NetworkLoad>? Loading { get; init; }

    /// <summary>Releases each stage's sessions as soon as the stage is done (for small GPUs).</summary>
    public bool LowMemory { get; init; }

    private NetworkSessions Sessions() => new(Model, Execution, _cache, Warning, LowMemory) { Loading = Loading };

    /// <summary>Prompt → embeddings, one per image, prompt-major then image-minor, each carrying the noise stream to continue.</summary>
    public IReadOnlyList<WuerstchenEmbedding> RunPrior(PriorSettings settings, CancellationToken cancellationToken = default) =>
        new PriorStage(Sessions(), Progress) { StartObserved = PriorStartObserved }.Run(settings, cancellationToken);

    /// <summary>Tests: the latents the first prior step is given (img2img's noised start) and its timestep.</summary>
    internal Action<float[], float>? PriorStartObserved { get; init; }

    /// <summary>
    /// Embeddings → images. Embeddings that carry a noise stream (and no explicit seed is given) continue it; they must
    /// all come from the same batch (<see cref="DecoderStage.ContinuesStream"/>). Otherwise a fresh generator is seeded.
    /// Holds every image of the batch: a caller that writes images uses <see cref="RunDecoderEach"/>.
    /// </summary>
    public IReadOnlyList<GeneratedImage> RunDecoder(IReadOnlyList<WuerstchenEmbedding> embeddings, DecoderSettings settings, CancellationToken cancellationToken = default) =>
        RunDecoderEach(embeddings, settings, cancellationToken).ToArray();

    /// <summary>
    /// <see cref="RunDecoder"/>, each image yielded as soon as the VQGAN has decoded it (checked before the first is
    /// asked for): write and dispose each before taking the next, and a batch never holds more than two images.
    /// </summary>
    public IEnumerable<GeneratedImage> RunDecoderEach(IReadOnlyList<WuerstchenEmbedding> embeddings, DecoderSettings settings, CancellationToken cancellationToken = default) =>
        new DecoderStage(Sessions(), Progress).Run(embeddings, settings, cancellationToken);

    /// <summary>Prompt → images in one go (the embedding stage's stream continues into the decoder); holds every image.</summary>
    public IReadOnlyList<GeneratedImage> Generate(PriorSettings prior, DecoderSettings decoder, CancellationToken cancellationToken = default) =>
        GenerateEach(prior, decoder, cancellationToken).ToArray();

    /// <summary>
    /// Prompt → images, the prior run now and each image yielded as soon as it is decoded (<see cref="RunDecoderEach"/>).
    /// Both halves' settings and the whole call's memory are checked before the prior runs.
    /// </summary>
    public IEnumerable<GeneratedImage> GenerateEach(PriorSettings prior, DecoderSettings decoder, CancellationToken cancellationToken = default)
    {
        // both halves' settings are checked before the prior runs (e.g. custom decoder timesteps on Stable Cascade)
        var p = prior.WithDefaults(Model.Family);
        p.Validate();
        var d = decoder.WithDefaults(Model.Family);
        d.Validate();
        if (decoder.Seed is not null)
        {
            throw new ArgumentException("A one-shot generation continues the prior's noise stream; no decoder seed applies.", nameof(decoder));
        }

        BatchMemory.CheckGeneration(checked(p.Prompts.Count * p.ImagesPerPrompt), p.CheckSize(Model.Config), p.PriorGuidanceScale > 1f, d.DecoderGuidanceScale > 1f);
        var embeddings = RunPrior(prior, cancellationToken);
        return RunDecoderEach(embeddings, decoder, cancellationToken);
    }

    /// <summary>
    /// Image → embedding with the EfficientNet encoder (reference §8): the image is resized with antialiasing and
    /// centre-cropped to 32h × 32w for the requested size (default: IO/ImageFit's 128-pixel-step size with the image's aspect
    /// ratio near the training area, with a warning when much is cropped),
    /// normalised with ImageNet statistics and encoded. The result is in the decoder's space and carries no noise stream.
    /// </summary>
    public WuerstchenEmbedding EncodeImage(string path, int? width, int? height, long seed, CancellationToken cancellationToken = default)
    {
        var (data, size) = EffnetNetwork.EncodeFile(Sessions(), path, width, height, Warning, cancellationToken);
        var parameters = new GenerationParameters
        {
            Seed = seed,
            Width = size.OutputWidth,
            Height = size.OutputHeight,
            ModelName = Model.Name,
            ModelFamily = Model.Family.Name,
            Source = "image:" + Path.GetFileName(path), // the file's name, not the user's folders
        };
        return parameters.ToEmbedding(new[] { 16, size.PriorHeight, size.PriorWidth }, data);
    }

    /// <summary>Checks embeddings before decoding (shape, finite values, made by this family's prior), e.g. before a cmdlet writes anything.</summary>
    public static void ValidateEmbeddings(IEnumerable<WuerstchenEmbedding> embeddings, ModelFamily family)
    {
        foreach (var e in embeddings)
        {
            DecoderStage.Validate(e, family);
        }
    }
}
