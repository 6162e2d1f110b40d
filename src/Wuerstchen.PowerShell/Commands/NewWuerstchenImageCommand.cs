using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// <para type="synopsis">Generates images from text prompts with Würstchen v2 or Stable Cascade (the model folder says which).</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "WuerstchenImage", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class NewWuerstchenImageCommand : NetworkCmdlet
{
    /// <summary>
    /// The prompt texts ('' is unconditional generation, as diffusers' prompt=""). Typed object[] so that a
    /// pipeline object without a Prompt property is refused instead of rendered as its text (see PromptInput).
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [ValidateNotNull]
    public object[] Prompt { get; set; } = Array.Empty<object>();

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [AllowNull]
    [EmptyAsNull]
    public string? NegativePrompt { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(int))]
    [ArgumentCompleter(typeof(ImageSizeCompleter))]
    public int? Width { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(int))]
    [ArgumentCompleter(typeof(ImageSizeCompleter))]
    public int? Height { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(int))]
    public int? ImagesPerPrompt { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(long))]
    public long? Seed { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(int))]
    public int? PriorSteps { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [FloatListTransformation]
    public float[]? PriorTimesteps { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(float))]
    public float? PriorGuidanceScale { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(int))]
    public int? DecoderSteps { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [FloatListTransformation]
    public float[]? DecoderTimesteps { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(float))]
    public float? DecoderGuidanceScale { get; set; }

    /// <summary>A folder (created if missing) or a file name whose extension (.png, .jpg, .jpeg, .webp) picks the format.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? OutputPath { get; set; }

    /// <summary>JPEG/WebP quality, 1 (smallest file) to 100 (best picture); PNG is lossless and ignores it.</summary>
    [Parameter]
    [ValidateRange(1, 100)]
    public int Quality { get; set; } = Core.IO.ImageFormats.DefaultQuality;

    [Parameter]
    public SwitchParameter Force { get; set; }

    private int _call;

    protected override void ProcessRecord()
    {
        _call++;
        string[] prompts = Prompt.Select(p => p is string s ? s : PSObject.AsPSObject(p).ToString()).ToArray();
        RecordContext = MyInvocation.ExpectingInput ? RowContext(_call, prompts) : null;
        Guarded(() =>
        {
            prompts = PromptInput.Resolve(Prompt);
            RecordContext = MyInvocation.ExpectingInput ? RowContext(_call, prompts) : null;
            var prior = PriorFromParameters(prompts);
            var decoder = ParameterChecks.Decoder(DecoderSteps, DecoderTimesteps, DecoderGuidanceScale);
            long seed = prior.Seed;
            if (!Seed.HasValue)
            {
                WriteVerbose($"No -Seed given: using seed {seed}.");
            }

            var outputs = OutputPaths.Create(OutputPath is null ? null : ProviderPaths.Resolve(this, OutputPath, "-OutputPath"),
                SessionState.Path.CurrentFileSystemLocation.ProviderPath, Force.IsPresent);
            var targets = ChooseTargets(outputs, prompts, prior);
            if (targets.All(t => t is null))
            {
                return; // -WhatIf or declined: no model is loaded
            }

            // the model and the family's rules (e.g. no custom timesteps for Stable Cascade) before anything is written
            var model = OpenModel();
            prior.WithDefaults(model.Family).Validate();
            prior.CheckSize(model.Config); // the family's sizes (v2: 128-pixel steps)
            decoder.WithDefaults(model.Family).Validate();
            outputs.EnsureFolder();
            string activity = $"New-WuerstchenImage #{_call}";
            int count = targets.Length;
            WriteBatchProgress(1, activity, $"{count} image{(count == 1 ? "" : "s")} at {prior.Width}×{prior.Height}, seed {seed}", 0);
            try
            {
                // each image's file is emitted as soon as it is written (ImageWriter), not at the end of the batch
                RunEngine(context =>
                {
                    var pipeline = CreatePipeline(model, context, 1, activity);
                    var images = pipeline.GenerateEach(prior, decoder, context.Cancellation);
                    return ImageWriter.WriteAll(images, targets, Force.IsPresent, outputs, context, Quality);
                });
            }
            finally
            {
                outputs.RemoveCreatedIfEmpty(); // a failed load or Ctrl+C leaves no empty folder behind
            }

            WriteBatchProgress(1, activity, "done", 100, completed: true);
        }, Prompt);
    }

    private PriorSettings PriorFromParameters(string[] prompts) => new PriorParameters
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

    /// <summary>Each image's file (prompt-major rows), or null where -WhatIf/-Confirm declined it.</summary>
    private string?[] ChooseTargets(OutputPaths outputs, string[] prompts, PriorSettings prior)
    {
        int n = prior.ImagesPerPrompt;
        var targets = new string?[prompts.Length * n];
        for (int r = 0; r < targets.Length; r++)
        {
            // named by the image's ImageIndex (r % n), as ConvertFrom-WuerstchenEmbedding names the same row
            var path = outputs.For(prompts[r / n], prior.Seed, r % n, r);
            targets[r] = ShouldProcess(path, $"Create image '{prompts[r / n]}' (seed {prior.Seed})") ? path : null;
        }

        return targets;
    }

    // "record 12 (prompt 'a red fox…')": with hundreds of CSV rows the user must find the bad one
    private static string RowContext(int record, string[] prompts)
    {
        string text = prompts.Length == 0 ? "" : prompts[0];
        if (text.Length > 40)
        {
            text = text[..40] + "…";
        }

        return $"Pipeline record {record} (prompt '{text}')";
    }
}
