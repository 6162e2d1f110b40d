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

    /// <summary>The SHA-256 the image prompts must have (Get-WuerstchenImageInfo gives them): a remake from other files is refused.</summary>
    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [RequestValue("ImagePromptSha256")]
    public string[]? ImagePromptSha256 { get; set; }

    /// <summary>The SHA-256 the init image must have (Get-WuerstchenImageInfo gives it).</summary>
    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    [RequestValue("InitImageSha256")]
    public string? InitImageSha256 { get; set; }

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
        // bound before any record: the command line and $PSDefaultParameterValues, which PowerShell does not bind again
        // from a record's column of the same name
        _runWide = MyInvocation.BoundParameters.Keys.Where(RequestParameters.All.ContainsKey).ToHashSet(StringComparer.OrdinalIgnoreCase);
        base.BeginProcessing();
    }

    private HashSet<string> _runWide = new();
    private readonly HashSet<string> _warnedColumns = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// A record's column named like a parameter that the command line or $PSDefaultParameterValues already gave is
    /// ignored (PowerShell's binding rule): said once a run per column, so a CSV's ModelPath or Seed column is not
    /// silently overridden by a default the user set long ago.
    /// </summary>
    private void WarnOverriddenColumns()
    {
        if (RecordTarget is not PSObject row || row.BaseObject is string)
        {
            return;
        }

        foreach (var name in _runWide)
        {
            if (!_warnedColumns.Contains(name) && row.Properties[name]?.Value is { } column && !string.IsNullOrWhiteSpace(column.ToString()))
            {
                _warnedColumns.Add(name);
                var given = MyInvocation.BoundParameters.TryGetValue(name, out var v) ? v : null;
                string shown = given is Array a ? string.Join(", ", a.Cast<object?>()) : given?.ToString() ?? "";
                WriteWarning($"The records' {name} column is ignored: -{name} '{Core.IO.TextExcerpt.Of(shown)}' from the command line or $PSDefaultParameterValues wins for every record. Leave -{name} out (or remove it from $PSDefaultParameterValues) to use the column.");
            }
        }
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
        WarnOverriddenColumns();
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
    internal PriorSettings PriorRequest(string[] prompts)
    {
        var init = ImageInputs.Init(this, InitImage, LiteralInitImage, InitImageSha256);
        return new PriorParameters
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
            ImagePrompts = ImageInputs.Prompts(this, ImagePrompt, LiteralImagePrompt, ImagePromptSha256),
            InitImage = init,
            Strength = StrengthFor(init),
        }.ToSettings();
    }


    private bool _warnedStrength;

    /// <summary>
    /// -Strength applies to img2img only. From a run-wide source (the command line, $PSDefaultParameterValues) over
    /// records some of which have no init image, it is dropped for those with one warning a run, so that a mixed CSV
    /// still runs; with no init image anywhere the engine refuses it (StrengthWithoutInitImage).
    /// </summary>
    private double? StrengthFor(string? initImage)
    {
        if (initImage is not null || Strength is null || !MyInvocation.ExpectingInput)
        {
            return Strength;
        }

        if (!_warnedStrength)
        {
            _warnedStrength = true;
            WriteWarning($"-Strength {Strength.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)} applies to records with an init image only; records without one are made from text.");
        }

        return null;
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
