using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// <para type="synopsis">Runs the prior (Stage C): text → image embeddings, one per image.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "WuerstchenEmbedding", DefaultParameterSetName = PromptSet)]
[OutputType(typeof(WuerstchenEmbedding))]
public sealed class GetWuerstchenEmbeddingCommand : NetworkCmdlet
{
    private const string PromptSet = "Prompt";
    internal const string ImageSet = "Image";
    private const string LiteralImageSet = "LiteralImage";

    [Parameter(ParameterSetName = PromptSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    [AllowEmptyString] // "" is the unconditional prompt, as diffusers accepts it (and New-WuerstchenImage does)
    public string[] Prompt { get; set; } = Array.Empty<string>();

    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [AllowNull]
    [EmptyAsNull]
    public string? NegativePrompt { get; set; }

    /// <summary>Pixel width; with -ImagePath, defaults to the size with the image's aspect ratio near 1024² pixels (IO/ImageFit).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(int))]
    [ArgumentCompleter(typeof(ImageSizeCompleter))]
    public int? Width { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(int))]
    [ArgumentCompleter(typeof(ImageSizeCompleter))]
    public int? Height { get; set; }

    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(int))]
    public int? ImagesPerPrompt { get; set; }

    /// <summary>The generator seed (random when not given, and reported on the output).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(long))]
    public long? Seed { get; set; }

    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(int))]
    public int? PriorSteps { get; set; }

    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [FloatListTransformation]
    public float[]? PriorTimesteps { get; set; }

    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(float))]
    public float? PriorGuidanceScale { get; set; }

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

    private int _call;

    protected override void ProcessRecord()
    {
        if (ParameterSetName is ImageSet or LiteralImageSet)
        {
            bool literal = ParameterSetName == LiteralImageSet;
            foreach (var p in (literal ? LiteralPath : ImagePath)!)
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

            return;
        }

        Guarded(() =>
        {
            _call++;
            var prior = new PriorParameters
            {
                Prompts = Prompt,
                NegativePrompt = NegativePrompt,
                Width = Width,
                Height = Height,
                ImagesPerPrompt = ImagesPerPrompt,
                Seed = Seed,
                PriorSteps = PriorSteps,
                PriorTimesteps = PriorTimesteps,
                PriorGuidanceScale = PriorGuidanceScale,
            }.ToSettings();
            var model = OpenModel();
            string activity = $"Get-WuerstchenEmbedding #{_call}";
            WriteBatchProgress(1, activity, $"{prior.Prompts.Count * prior.ImagesPerPrompt} embedding(s), seed {prior.Seed}", 0);
            RunEngine(context =>
            {
                // each embedding is emitted as soon as the prior has made the batch, on the pipeline thread
                foreach (var e in CreatePipeline(model, context, 1, activity).RunPrior(prior, context.Cancellation))
                {
                    context.WriteObject(e);
                }

                return true;
            });
            WriteBatchProgress(1, activity, "done", 100, completed: true);
        }, Prompt);
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
