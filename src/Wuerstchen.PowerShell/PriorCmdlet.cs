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

    private int _record;
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
        Prompts = prompts,
        NegativePrompt = NegativePrompt,
        Width = Width,
        Height = Height,
        ImagesPerPrompt = ImagesPerPrompt,
        Seed = Seed,
        PriorSteps = PriorSteps,
        PriorTimesteps = PriorTimesteps,
        PriorGuidanceScale = PriorGuidanceScale,
    }.ToSettings();
}
