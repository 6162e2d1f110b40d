using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// <para type="synopsis">Runs the decoder (Stage B) and VQGAN (Stage A): image embeddings → PNG files.</para>
/// Embeddings from Get-WuerstchenEmbedding continue their generator stream, so the images equal those of
/// New-WuerstchenImage with the same parameters; consecutive embeddings of one batch are decoded together.
/// With -Seed, or for embeddings without a stream (imported or made from an image), each embedding is
/// decoded on its own with a fresh generator seeded with -Seed (else the embedding's seed).
/// </summary>
[Cmdlet(VerbsData.ConvertFrom, "WuerstchenEmbedding", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ConvertFromWuerstchenEmbeddingCommand : NetworkCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNull]
    [EmbeddingTransformation]
    public WuerstchenEmbedding[] InputObject { get; set; } = Array.Empty<WuerstchenEmbedding>();

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("DecoderSteps")]
    public int? DecoderSteps { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("DecoderTimesteps")]
    public float[]? DecoderTimesteps { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("DecoderGuidanceScale")]
    public float? DecoderGuidanceScale { get; set; }

    /// <summary>Starts a fresh generator with this seed for every embedding instead of continuing its stream.</summary>
    [Parameter]
    [RequestValue("Seed")]
    public long? Seed { get; set; }

    /// <summary>Decoder text instead of the embedding's prompt (e.g. for an embedding made from an image).</summary>
    [Parameter]
    [AllowEmptyString]
    public string? Prompt { get; set; }

    [Parameter]
    [AllowEmptyString]
    public string? NegativePrompt { get; set; }

    /// <summary>A folder (created if missing) or a file name whose extension (.png, .jpg, .jpeg, .webp) picks the format.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutputPath { get; set; }

    /// <summary>JPEG/WebP quality, 1 (smallest file) to 100 (best picture); PNG is lossless and ignores it.</summary>
    [Parameter]
    [ValidateRange(1, 100)]
    public int Quality { get; set; } = Core.IO.ImageFormats.DefaultQuality;

    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>
    /// Skips an embedding whose image file already exists with the same parameters (emitted with Skipped = $true):
    /// running a stopped decoder run again makes only what is missing, as New-WuerstchenImage -SkipExisting does.
    /// </summary>
    [Parameter]
    public SwitchParameter SkipExisting { get; set; }

    protected override void BeginProcessing()
    {
        if (SkipExisting.IsPresent && Force.IsPresent)
        {
            ThrowTerminatingError(ToErrorRecord(new WuerstchenException("ConflictingParameters", WuerstchenErrorKind.InvalidArgument,
                "-SkipExisting (keep the images that exist) and -Force (make them again) cannot be used together; give one of them.", "SkipExisting, Force")));
        }

        base.BeginProcessing();
    }

    private readonly List<WuerstchenEmbedding> _pending = new();
    private OutputPaths? _outputs;

    protected override void ProcessRecord()
    {
        if (ReportBindingFailures())
        {
            return;
        }

        foreach (var embedding in InputObject)
        {
            if (embedding is null)
            {
                continue;
            }

            // the decoder stage's stream rule: a batch's embeddings are decoded together, continuing its noise stream
            bool continues = DecoderStage.ContinuesStream(embedding, Seed);
            if (_pending.Count > 0 && (!continues || !DecoderStage.SharesStream(_pending[0], embedding)))
            {
                Flush();
            }

            _pending.Add(embedding);
            if (!continues || DecoderStage.IsWholeBatch(_pending))
            {
                Flush(); // on its own, or the whole batch is here
            }
        }
    }

    protected override void EndProcessing()
    {
        Flush();
        base.EndProcessing();
    }

    private void Flush()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        var group = _pending.ToArray();
        _pending.Clear();
        Guarded(() =>
        {
            var settings = ParameterChecks.Decoder(DecoderSteps, DecoderTimesteps, DecoderGuidanceScale, Seed, Prompt, NegativePrompt);
            foreach (var e in group)
            {
                EmbeddingChecks.Check(e);
            }

            _outputs ??= OutputPaths.Create(OutputPath is null ? null : ProviderPaths.Resolve(this, OutputPath, "-OutputPath"),
                SessionState.Path.CurrentFileSystemLocation.ProviderPath, Force.IsPresent);
            // -SkipExisting compares with what each file records, which needs the model's family defaults first
            var model = SkipExisting.IsPresent ? OpenModel() : null;
            var planSettings = model is null ? null : settings.WithDefaults(model.Family);
            var targets = new string?[group.Length];
            var skipped = new bool[group.Length];
            for (int i = 0; i < group.Length; i++)
            {
                var e = group[i];
                long seed = Seed ?? e.Seed;
                var planned = model is null ? null : GenerationParameters.PlannedDecode(e, planSettings!, model.Name, model.Family.Name);
                // named by the embedding's ImageIndex, as New-WuerstchenImage names the same row
                var target = _outputs.For(Prompt ?? EmbeddingChecks.NameOf(e), seed, e.ImageIndex, planned, SkipExisting.IsPresent);
                if (target.Exists)
                {
                    WriteVerbose($"Skipped '{target.Path}': it exists with the same parameters.");
                    WriteObject(ProviderPaths.FileItem(this, target.Path, planned!.ToOutputProperties().Append(new("Skipped", true)).ToArray()));
                    skipped[i] = true;
                    continue;
                }

                targets[i] = ShouldProcess(target.Path, $"Decode embedding '{e.Prompt}' (seed {seed})") ? target.Path : null;
            }

            if (targets.All(t => t is null))
            {
                return;
            }

            // a skipped embedding is not decoded at all (each embedding of a batch keeps its own noise without the others)
            var kept = Enumerable.Range(0, group.Length).Where(i => !skipped[i]).ToArray();
            var work = kept.Select(i => group[i]).ToArray();
            targets = kept.Select(i => targets[i]).ToArray();

            model ??= OpenModel();
            // the family's rules and the embeddings' family before anything is written
            settings.WithDefaults(model.Family).Validate();
            WuerstchenPipeline.ValidateEmbeddings(work, model.Family);
            foreach (var e in work)
            {
                EmbeddingChecks.CheckSize(e, model.Config);
            }

            _outputs.EnsureFolder();
            var outputs = _outputs;
            try
            {
                RunEngine(context =>
                {
                    var pipeline = CreatePipeline(model, context, 1, "ConvertFrom-WuerstchenEmbedding");
                    var images = pipeline.RunDecoderEach(work, settings, context.Cancellation);
                    return ImageWriter.WriteAll(images, targets, Force.IsPresent, outputs, context, Quality);
                });
            }
            finally
            {
                outputs.RemoveCreatedIfEmpty();
            }
        }, group);
    }
}
