using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// <para type="synopsis">Generates images from text prompts with Würstchen v2 or Stable Cascade (the model folder says which).</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "WuerstchenImage", SupportsShouldProcess = true, DefaultParameterSetName = PromptSet)]
[OutputType(typeof(FileInfo))]
public sealed class NewWuerstchenImageCommand : PriorCmdlet
{
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("DecoderSteps")]
    public int? DecoderSteps { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("DecoderTimesteps")]
    public float[]? DecoderTimesteps { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("DecoderGuidanceScale")]
    public float? DecoderGuidanceScale { get; set; }

    /// <summary>A folder (created if missing) or a file name whose extension (.png, .jpg, .jpeg, .webp) picks the format.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    [RequestValue("OutputPath")]
    public string? OutputPath { get; set; }

    /// <summary>JPEG/WebP quality, 1 (smallest file) to 100 (best picture; default 90); PNG is lossless and ignores it.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("Quality")]
    public int? Quality { get; set; }

    /// <summary>Overwrites files that existed before this run (never another image of the same run).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>
    /// Lets the records' OutputPath (a CSV column, a pipeline object's property) write anywhere: without it a record's
    /// OutputPath is relative to the current folder and may not leave it (a prompt list is data people share).
    /// </summary>
    [Parameter]
    public SwitchParameter AllowRecordOutputPath { get; set; }

    /// <summary>Skips an image whose file exists and records the same parameters (emitted with Skipped = $true): a re-run finishes a stopped one.</summary>
    [Parameter]
    public SwitchParameter SkipExisting { get; set; }

    // one set of output names per output path for the whole run, so no image of the run replaces another
    private readonly Dictionary<string, OutputPaths> _outputs = new(StringComparer.Ordinal);
    private bool _outputPathOnCommandLine;

    protected override void BeginProcessing()
    {
        _outputPathOnCommandLine = MyInvocation.BoundParameters.ContainsKey(nameof(OutputPath));
        if (SkipExisting.IsPresent && Force.IsPresent)
        {
            // one says keep what exists, the other make it again: neither may win silently
            ThrowTerminatingError(ToErrorRecord(new WuerstchenException("ConflictingParameters", WuerstchenErrorKind.InvalidArgument,
                "-SkipExisting (keep the images that exist) and -Force (make them again) cannot be used together; give one of them.", "SkipExisting, Force")));
        }

        base.BeginProcessing();
    }

    protected override void ProcessRecord()
    {
        if (BeginRecord() is not { } prompts)
        {
            return;
        }

        Guarded(() => Render(prompts), RecordTarget ?? Prompt);
    }

    private void Render(string[] prompts)
    {
        var prior = PriorRequest(prompts);
        var decoder = ParameterChecks.Decoder(DecoderSteps, DecoderTimesteps, DecoderGuidanceScale);
        if (!Seed.HasValue)
        {
            WriteVerbose($"No -Seed given: using seed {prior.Seed}.");
        }

        var outputs = Outputs();
        // the family's rules (sizes, no custom timesteps for Stable Cascade) before anything is written; -WhatIf
        // reports them too when the model folder is there (reading model_index.json loads no network)
        var model = DryRun ? TryOpenModel() : OpenModel();
        LatentSize? size = null;
        if (model is not null)
        {
            prior = prior.WithDefaults(model.Family);
            prior.Validate();
            size = prior.CheckSize(model.Config);
            decoder = decoder.WithDefaults(model.Family);
            decoder.Validate();
            WarnIgnoredNegativePrompt(prior.PriorGuidanceScale, decoder.DecoderGuidanceScale);
        }

        var targets = ChooseTargets(outputs, prior, decoder, size, model, KeptRows(prompts, prior));
        if (targets.All(t => t is null) || model is null)
        {
            return; // all skipped, -WhatIf or declined: no network is loaded
        }

        Generate(model, prior, decoder, outputs, targets);
    }

    private void Generate(ModelFolder model, PriorSettings prior, DecoderSettings decoder, OutputPaths outputs, string?[] targets)
    {
        outputs.EnsureFolder();
        string activity = $"New-WuerstchenImage #{RecordNumber}";
        int count = targets.Count(t => t is not null);
        WriteBatchProgress(1, activity, $"{count} image{(count == 1 ? "" : "s")} at {prior.Width}×{prior.Height}, seed {prior.Seed}", 0);
        int quality = Quality ?? Core.IO.ImageFormats.DefaultQuality;
        try
        {
            // each image's file is emitted as soon as it is written (ImageWriter), not at the end of the batch
            RunEngine(context =>
            {
                var pipeline = CreatePipeline(model, context, 1, activity);
                var images = pipeline.GenerateEach(prior, decoder, context.Cancellation); // one image at a time
                return ImageWriter.WriteAll(images, targets, Force.IsPresent, outputs, context, quality);
            });
        }
        finally
        {
            outputs.RemoveCreatedIfEmpty(); // a failed load or Ctrl+C leaves no empty folder behind
        }

        WriteBatchProgress(1, activity, "done", 100, completed: true);
    }

    /// <summary>
    /// Each image's file (prompt-major rows), or null where it is skipped (-SkipExisting: emitted here, marked) or
    /// -WhatIf/-Confirm declined it. -WhatIf lists the names the real run writes: the same choice, made once.
    /// </summary>
    private string?[] ChooseTargets(OutputPaths outputs, PriorSettings prior, DecoderSettings decoder, LatentSize? size, ModelFolder? model, bool[] kept)
    {
        int n = prior.ImagesPerPrompt;
        var targets = new string?[prior.Prompts.Count * n];
        // the request's record once (it reads the input images for their SHA-256), then each row's place in it
        var request = size is { } s && model is not null ? GenerationParameters.OfPrior(prior, s, model.Name, model.Family.Name) : null;
        for (int r = 0; r < targets.Length; r++)
        {
            if (!kept[r])
            {
                continue; // made for its place in the batch (its noise), not written
            }

            var planned = request is null ? null : GenerationParameters.Planned(request, prior, decoder, r);
            // named by the image's ImageIndex (r % n), as ConvertFrom-WuerstchenEmbedding names the same row
            var target = outputs.For(prior.Prompts[r / n], prior.Seed, r % n, planned, SkipExisting.IsPresent);
            if (target.Exists)
            {
                WriteVerbose($"Skipped '{target.Path}': it exists with the same parameters.");
                WriteObject(ProviderPaths.FileItem(this, target.Path, Skipped(planned!)));
                continue;
            }

            string prompt = Core.IO.TextExcerpt.Of(prior.Prompts[r / n], 60);
            targets[r] = ShouldProcess(target.Path, $"Create image '{prompt}' (seed {prior.Seed})") ? target.Path : null;
        }

        return targets;
    }

    private static IReadOnlyList<KeyValuePair<string, object?>> Skipped(GenerationParameters planned) =>
        planned.ToOutputProperties().Append(new("Skipped", true)).ToArray();

    private OutputPaths Outputs()
    {
        string current = SessionState.Path.CurrentFileSystemLocation.ProviderPath;
        // the user's own -OutputPath (command line, $PSDefaultParameterValues) goes anywhere; a record's stays in the current folder
        string? resolved = OutputPath is null ? null
            : _outputPathOnCommandLine || AllowRecordOutputPath ? ProviderPaths.Resolve(this, OutputPath, "-OutputPath")
            : RecordPaths.ResolveOutput(this, OutputPath, current);
        string key = resolved ?? "";
        if (!_outputs.TryGetValue(key, out var outputs))
        {
            outputs = OutputPaths.Create(resolved, current, Force.IsPresent);
            _outputs[key] = outputs;
        }

        return outputs;
    }

    private bool DryRun => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w)
        ? w is SwitchParameter { IsPresent: true } || w is true
        : GetVariableValue("WhatIfPreference") is SwitchParameter { IsPresent: true } or true;

    private ModelFolder? TryOpenModel()
    {
        try
        {
            return OpenModel();
        }
        catch (WuerstchenException)
        {
            return null; // -WhatIf without a model folder: the model-free checks are all it can do
        }
    }
}
