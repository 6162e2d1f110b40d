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

    [Parameter(ParameterSetName = PromptSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    [AllowEmptyString] // "" is the unconditional prompt, as diffusers accepts it (and New-WuerstchenImage does)
    public string[] Prompt { get; set; } = Array.Empty<string>();

    [Parameter(ParameterSetName = PromptSet, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [AllowNull]
    [EmptyAsNull]
    public string? NegativePrompt { get; set; }

    /// <summary>Pixel width; with -ImagePath, defaults to the image's width snapped to 128-pixel steps.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(int))]
    public int? Width { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull(typeof(int))]
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

    /// <summary>An image to encode with the EfficientNet encoder instead of running the prior.</summary>
    [Parameter(ParameterSetName = ImageSet, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string? ImagePath { get; set; }

    private int _call;

    protected override void ProcessRecord()
    {
        if (ParameterSetName == ImageSet)
        {
            Guarded(ProcessImage, ImagePath);
            return;
        }

        Guarded(() =>
        {
            _call++;
            var prior = ParameterChecks.Prior(Prompt, NegativePrompt, Width, Height, ImagesPerPrompt, Seed, PriorSteps, PriorTimesteps, PriorGuidanceScale);
            var model = OpenModel();
            string activity = $"Get-WuerstchenEmbedding #{_call}";
            var embeddings = RunEngine(context => CreatePipeline(model, context, 1, activity).RunPrior(prior, context.Cancellation));
            WriteBatchProgress(2, activity + ": Prior", "done", 100, completed: true);
            foreach (var e in embeddings)
            {
                WriteObject(e);
            }
        }, Prompt);
    }

    private void ProcessImage()
    {
        var path = GetUnresolvedProviderPathFromPSPath(ImagePath!);
        int? width = Width, height = Height;
        var model = OpenModel();
        var embedding = RunEngine(context =>
        {
            var pipeline = CreatePipeline(model, context, 1, "Get-WuerstchenEmbedding");
            return pipeline.EncodeImage(path, width, height, Seed ?? ParameterChecks.RandomSeed(), context.Cancellation);
        });
        WriteObject(embedding);
    }
}
