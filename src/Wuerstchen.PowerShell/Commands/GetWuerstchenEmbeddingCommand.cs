using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// <para type="synopsis">Runs the prior (Stage C): text → image embeddings, one per image.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "WuerstchenEmbedding", DefaultParameterSetName = PromptSet)]
[OutputType(typeof(WuerstchenEmbedding))]
public sealed class GetWuerstchenEmbeddingCommand : PriorCmdlet
{
    internal const string ImageSet = "Image";
    private const string LiteralImageSet = "LiteralImage";

    /// <summary>
    /// Images to encode with the EfficientNet encoder instead of running the prior; wildcards are expanded. Not
    /// positional: a lone argument is the prompt (`Get-WuerstchenEmbedding photo.jpg` embeds that text).
    /// </summary>
    [Parameter(ParameterSetName = ImageSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[]? ImagePath { get; set; }

    /// <summary>Images to encode, taken as written (no wildcards); Get-ChildItem's output binds here.</summary>
    [Parameter(ParameterSetName = LiteralImageSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[]? LiteralPath { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName is ImageSet or LiteralImageSet || Files() is not null)
        {
            ProcessImages();
            return;
        }

        if (BeginRecord() is not { } prompts)
        {
            return;
        }

        Guarded(() =>
        {
            var prior = PriorRequest(prompts);
            var kept = KeptRows(prompts, prior);
            var model = OpenModel();
            WarnIgnoredNegativePrompt(prior.WithDefaults(model.Family).PriorGuidanceScale);
            string activity = $"Get-WuerstchenEmbedding #{RecordNumber}";
            WriteBatchProgress(1, activity, $"{prior.Prompts.Count * prior.ImagesPerPrompt} embedding(s), seed {prior.Seed}", 0);
            RunEngine(context =>
            {
                // each embedding is emitted as soon as the prior has made the batch, on the pipeline thread
                var embeddings = CreatePipeline(model, context, 1, activity).RunPrior(prior, context.Cancellation);
                for (int r = 0; r < embeddings.Count; r++)
                {
                    if (kept[r])
                    {
                        context.WriteObject(embeddings[r]);
                    }
                }

                return true;
            });
            WriteBatchProgress(1, activity, "done", 100, completed: true);
        }, RecordTarget ?? Prompt);
    }

    /// <summary>
    /// Get-ChildItem's files piped in: -Prompt (object[], so that a record without a Prompt property is refused rather
    /// than embedded as its text) takes any object first, so files are recognised here and encoded as -LiteralPath.
    /// </summary>
    private string[]? Files() => Prompt is { Length: > 0 } items && MyInvocation.ExpectingInput
        && items.All(i => (i is PSObject p ? p.BaseObject : i) is FileSystemInfo)
        ? items.Select(i => ((FileSystemInfo)(i is PSObject p ? p.BaseObject : i)!).FullName).ToArray()
        : null;

    private void ProcessImages()
    {
        if (ReportBindingFailures())
        {
            return;
        }

        bool literal = ParameterSetName != ImageSet;
        foreach (var p in Files() ?? (literal ? LiteralPath : ImagePath)!)
        {
            Guarded(() =>
            {
                // one bad image is an error for that image; the images after it are still encoded
                foreach (var file in ProviderPaths.ResolveFiles(this, p, literal, literal ? "-LiteralPath" : "-ImagePath"))
                {
                    Guarded(() => ProcessImage(file), file);
                }
            }, p);
        }
    }

    private void ProcessImage(string path)
    {
        int? width = Width, height = Height;
        var model = OpenModel();
        RunEngine(context =>
        {
            var pipeline = CreatePipeline(model, context, 1, "Get-WuerstchenEmbedding");
            context.WriteObject(pipeline.EncodeImage(path, width, height, Seed ?? ParameterChecks.RandomSeed(), context.Cancellation));
            return true;
        });
    }
}
