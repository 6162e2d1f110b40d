using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// Base of New-WuerstchenImage and Get-WuerstchenEmbedding: the prior's parameters, declared once for both (their
/// parsing rules are <see cref="RequestParameters"/>'), and the handling of one pipeline record: its number (every
/// input record counts, also one whose values do not parse), its prompts (<see cref="PromptInput"/>) and its errors.
/// </summary>
public abstract class PriorCmdlet : NetworkCmdlet
{
    /// <summary>The parameter set of the prompt parameters (Get-WuerstchenEmbedding also encodes images).</summary>
    protected const string PromptSet = "Prompt";

    /// <summary>
    /// The prompt texts ('' is unconditional generation, as diffusers' prompt=""). Typed object[] so that a pipeline
    /// object without a Prompt property is refused instead of rendered as its text (see PromptInput).
    /// </summary>
    [Parameter(ParameterSetName = PromptSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [AllowNull]
    public object?[]? Prompt { get; set; }

    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [AllowNull]
    [RequestValue("NegativePrompt")]
    public string? NegativePrompt { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("Width")]
    [ArgumentCompleter(typeof(ImageSizeCompleter))]
    public int? Width { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("Height")]
    [ArgumentCompleter(typeof(ImageSizeCompleter))]
    public int? Height { get; set; }

    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [RequestValue("ImagesPerPrompt")]
    public int? ImagesPerPrompt { get; set; }

    /// <summary>The generator seed (random when not given, and reported on the output).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("Seed")]
    public long? Seed { get; set; }

    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [RequestValue("PriorSteps")]
    public int? PriorSteps { get; set; }

    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [RequestValue("PriorTimesteps")]
    public float[]? PriorTimesteps { get; set; }

    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [RequestValue("PriorGuidanceScale")]
    public float? PriorGuidanceScale { get; set; }

    /// <summary>
    /// Images that condition the prior together with the prompt (Stable Cascade image variation, as diffusers'
    /// StableCascadePriorPipeline(images=[…])): every image goes to every image of the batch. Wildcards expand (a
    /// pattern must match at least one file); a CSV cell may list several files separated by ';'.
    /// </summary>
    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [AllowNull]
    [RequestValue("ImagePrompt")]
    public string[]? ImagePrompt { get; set; }

    /// <summary>Image prompts taken as written: no wildcards, no ';' lists.</summary>
    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [RequestValue("LiteralImagePrompt")]
    public string[]? LiteralImagePrompt { get; set; }

    /// <summary>
    /// img2img: the image the prior starts from (encoded with the EfficientNet encoder at the request's size, noised to
    /// the strength's timestep; docs/img2img.md). Wildcards expand and must match exactly one file.
    /// </summary>
    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [AllowNull]
    [AllowEmptyString]
    [RequestValue("InitImage")]
    public string? InitImage { get; set; }

    /// <summary>The init image taken as written (no wildcards).</summary>
    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    [RequestValue("LiteralInitImage")]
    public string? LiteralInitImage { get; set; }

    /// <summary>img2img: 0 keeps the image's embedding, 1 ignores the image (text-to-image); default 0.8.</summary>
    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [RequestValue("Strength")]
    public double? Strength { get; set; }

    /// <summary>
    /// All prompts of the batch an image was made in (Get-WuerstchenImageInfo gives them): the batch is made again and
    /// only the image(s) that -Prompt, -PromptIndex and -ImageIndex pick are kept, with the pixels the batch gave them.
    /// </summary>
    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [RequestValue("BatchPrompts")]
    public string[]? BatchPrompts { get; set; }

    /// <summary>Keeps only the images of this prompt of the batch (0 = the first).</summary>
    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [RequestValue("PromptIndex")]
    public int? PromptIndex { get; set; }

    /// <summary>Keeps only this image of each prompt (0 = the first of -ImagesPerPrompt).</summary>
    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [RequestValue("ImageIndex")]
    public int? ImageIndex { get; set; }

    private int _record;
    private bool _warnedNegative;

    /// <summary>
    /// A negative prompt acts only through classifier-free guidance, which runs above guidance 1; below it is ignored, as
    /// in diffusers. Said once a run, so a sweep down to guidance 1 does not look as if the negative prompt worked.
    /// </summary>
    protected void WarnIgnoredNegativePrompt(float? priorGuidance, float? decoderGuidance = null)
    {
        if (_warnedNegative || string.IsNullOrEmpty(NegativePrompt) || priorGuidance > 1 || decoderGuidance > 1)
        {
            return;
        }

        _warnedNegative = true;
        string scales = decoderGuidance is null ? $"PriorGuidanceScale {priorGuidance}" : $"PriorGuidanceScale {priorGuidance} and DecoderGuidanceScale {decoderGuidance}";
        WriteWarning($"-NegativePrompt is ignored: it acts only when a guidance scale is above 1 (here {scales}), as in diffusers.");
    }
    private bool _promptOnCommandLine;

    /// <summary>This record's number in the run (from 1, every input record counted).</summary>
    protected int RecordNumber => _record;

    protected override void BeginProcessing()
    {
        _promptOnCommandLine = MyInvocation.BoundParameters.ContainsKey(nameof(Prompt));
        base.BeginProcessing();
    }

    /// <summary>
    /// Starts one record: counts it, names it in errors, reports values that did not parse and resolves its prompts.
    /// Null when nothing is to be made for it (an error or a blank pipeline line, already reported).
    /// </summary>
    protected string[]? BeginRecord()
    {
        _record++;
        var failures = BindingFailures.Take();
        bool fromPipeline = MyInvocation.ExpectingInput && !_promptOnCommandLine;
        object? target = Prompt is { Length: 1 } ? Prompt[0] : Prompt;
        RecordTarget = MyInvocation.ExpectingInput ? target : null;
        RecordContext = MyInvocation.ExpectingInput ? PromptInput.Context(_record, Prompt) : null;
        foreach (var failure in failures)
        {
            WriteEngineError(failure);
        }

        if (failures.Count > 0)
        {
            return null;
        }

        string[]? prompts = null;
        Guarded(() => prompts = PromptInput.Resolve(Prompt, fromPipeline), target);
        if (prompts is null)
        {
            return null;
        }

        RecordContext = MyInvocation.ExpectingInput ? PromptInput.Context(_record, prompts) : null;
        if (prompts.Length == 0)
        {
            // blank lines of Get-Content, an empty Prompt cell: skipped, not an unconditional image
            WriteWarning($"{RecordContext ?? $"Record {_record}"}: the prompt is empty; nothing was made for it (-Prompt '' makes an unconditional image).");
            return null;
        }

        return prompts;
    }

    /// <summary>The prior's settings of this record (engine defaults for what is left out; a random seed). Validated.</summary>
    internal PriorSettings PriorRequest(string[] prompts) => new PriorParameters
    {
        Prompts = BatchPrompts ?? prompts,
        NegativePrompt = NegativePrompt,
        Width = Width,
        Height = Height,
        ImagesPerPrompt = ImagesPerPrompt,
        Seed = Seed,
        PriorSteps = PriorSteps,
        PriorTimesteps = PriorTimesteps,
        PriorGuidanceScale = PriorGuidanceScale,
        ImagePrompts = ImagePromptFiles(),
        InitImage = InitImageFile(),
        Strength = Strength,
    }.ToSettings();

    /// <summary>The init image as a file-system path: one existing file (a pattern matching none or several is an error).</summary>
    private string? InitImageFile()
    {
        if (InitImage is not null && LiteralInitImage is not null)
        {
            throw new WuerstchenException("ConflictingParameters", WuerstchenErrorKind.InvalidArgument,
                "-InitImage and -LiteralInitImage name the same thing; give one of them.", InitImage);
        }

        bool literal = LiteralInitImage is not null;
        if ((literal ? LiteralInitImage : InitImage) is not { } given)
        {
            return null;
        }

        string name = literal ? "-LiteralInitImage" : "-InitImage";
        var files = ProviderPaths.ResolveFiles(this, given, literal, name).Take(2).ToArray();
        if (files.Length != 1 || !File.Exists(files[0]))
        {
            throw new WuerstchenException("ImageFileNotFound", WuerstchenErrorKind.ObjectNotFound, files.Length > 1
                ? $"{name} '{Core.IO.TextExcerpt.Of(given)}' matches several files; img2img starts from one image. Name one file."
                : $"{name} '{Core.IO.TextExcerpt.Of(given)}' names no existing file; name an image file.", given);
        }

        return files[0];
    }

    /// <summary>
    /// The image prompts as file-system paths, checked to exist before any network runs: a pattern that matches nothing
    /// would otherwise turn image variation into text-to-image without a word.
    /// </summary>
    private string[]? ImagePromptFiles()
    {
        if (ImagePrompt is not { Length: > 0 } && LiteralImagePrompt is not { Length: > 0 })
        {
            return null;
        }

        var files = new List<string>();
        foreach (var pattern in (ImagePrompt ?? Array.Empty<string>()).SelectMany(p => p.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            int before = files.Count;
            files.AddRange(ProviderPaths.ResolveFiles(this, pattern, false, "-ImagePrompt"));
            if (files.Count == before)
            {
                throw new WuerstchenException("ImageFileNotFound", WuerstchenErrorKind.ObjectNotFound,
                    $"-ImagePrompt '{Core.IO.TextExcerpt.Of(pattern)}' matches no file; name existing image files (or use -LiteralImagePrompt for a name with wildcard characters).", pattern);
            }
        }

        foreach (var path in LiteralImagePrompt ?? Array.Empty<string>())
        {
            files.AddRange(ProviderPaths.ResolveFiles(this, path, true, "-LiteralImagePrompt"));
        }

        foreach (var file in files.Where(f => !File.Exists(f)))
        {
            throw new WuerstchenException("ImageFileNotFound", WuerstchenErrorKind.ObjectNotFound,
                $"The image prompt '{Core.IO.TextExcerpt.Of(file)}' does not exist; name existing image files.", file);
        }

        return files.Count > 0 ? files.ToArray() : null;
    }

    /// <summary>
    /// Which rows (prompt-major) of the batch this record keeps: all, unless -PromptIndex, -ImageIndex or -BatchPrompts
    /// pick some. The prompt must be the batch's prompt at its index: a mismatch would remake another image.
    /// </summary>
    internal bool[] KeptRows(string[] prompts, PriorSettings prior)
    {
        int n = prior.ImagesPerPrompt;
        if (ImageIndex >= n)
        {
            throw new WuerstchenException("InvalidImageIndex", WuerstchenErrorKind.InvalidArgument,
                $"'ImageIndex' is {ImageIndex} but the batch has {n} image(s) per prompt; give 0 to {n - 1}, or a larger -ImagesPerPrompt.", ImageIndex);
        }

        int? promptIndex = PromptIndex;
        if (BatchPrompts is { } batch)
        {
            promptIndex ??= Array.IndexOf(batch, prompts.Length == 1 ? prompts[0] : null);
            if (prompts.Length != 1 || promptIndex < 0 || promptIndex >= batch.Length || batch[promptIndex.Value] != prompts[0])
            {
                throw new WuerstchenException("BatchMismatch", WuerstchenErrorKind.InvalidArgument,
                    $"The prompt '{Core.IO.TextExcerpt.Of(string.Join("', '", prompts))}' is not prompt {promptIndex} of the batch's {batch.Length} ('BatchPrompts'); give one prompt of the batch and its index.", prompts);
            }
        }
        else if (promptIndex >= prompts.Length)
        {
            throw new WuerstchenException("InvalidPromptIndex", WuerstchenErrorKind.InvalidArgument,
                $"'PromptIndex' is {promptIndex} but there are {prompts.Length} prompt(s); give 0 to {prompts.Length - 1}, or the batch's prompts with -BatchPrompts.", promptIndex);
        }

        var kept = new bool[prior.Prompts.Count * n];
        for (int r = 0; r < kept.Length; r++)
        {
            kept[r] = (promptIndex is not { } p || r / n == p) && (ImageIndex is not { } i || r % n == i);
        }

        return kept;
    }
}
