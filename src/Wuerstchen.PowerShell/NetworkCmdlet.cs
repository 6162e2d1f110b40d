using System.Management.Automation;
using Wuerstchen.Core;
using Wuerstchen.Core.IO;

namespace Wuerstchen.PowerShell;

/// <summary>Base of the cmdlets that run networks: device choice, memory options, progress, image output.</summary>
public abstract class NetworkCmdlet : WuerstchenCmdlet
{
    /// <summary>Auto tries CUDA and falls back to the CPU with a warning; Cuda fails when CUDA cannot load; Cpu never tries it.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public ExecutionProviderKind ExecutionProvider { get; set; } = ExecutionProviderKind.Auto;

    /// <summary>The CUDA device.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, 64)]
    public int DeviceId { get; set; }

    /// <summary>Upper bound, in MiB, of ONNX Runtime's CUDA memory arena (0 = none).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, 1 << 22)]
    public int GpuMemoryLimitMB { get; set; }

    /// <summary>Releases each stage's networks as soon as the stage is done (slower, for small GPUs).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public SwitchParameter LowMemory { get; set; }

    protected WuerstchenPipeline CreatePipeline(ModelFolder model, EngineContext context, int progressParent, string activity)
    {
        int lastPercent = -1;
        string lastStage = "";
        var warned = new HashSet<string>(StringComparer.Ordinal);
        return new WuerstchenPipeline(model, new ExecutionOptions
        {
            Provider = ExecutionProvider,
            DeviceId = DeviceId,
            GpuMemoryLimit = (long)GpuMemoryLimitMB << 20,
        })
        {
            LowMemory = LowMemory.IsPresent,
            // once per distinct text: both text encoders truncate a long prompt with the same message
            Warning = message =>
            {
                lock (warned)
                {
                    if (!warned.Add(message))
                    {
                        return;
                    }
                }

                context.Send(() => WriteWarning(message));
            },
            Progress = p =>
            {
                int percent = p.TotalSteps == 0 ? 100 : p.Step * 100 / p.TotalSteps;
                if (percent == lastPercent && p.Stage == lastStage)
                {
                    return;
                }

                lastPercent = percent;
                lastStage = p.Stage;
                var record = new ProgressRecord(progressParent + 1, $"{activity}: {p.Stage}",
                    $"{p.Stage} step {p.Step} of {p.TotalSteps} ({p.Rows} image{(p.Rows == 1 ? "" : "s")})")
                {
                    ParentActivityId = progressParent,
                    PercentComplete = Math.Clamp(percent, 0, 100),
                    RecordType = p.Step >= p.TotalSteps && p.Stage == "VQGAN" ? ProgressRecordType.Completed : ProgressRecordType.Processing,
                };
                context.Post(() => WriteProgress(record));
            },
        };
    }

    protected void WriteBatchProgress(int id, string activity, string status, int percent, bool completed = false) =>
        WriteProgress(new ProgressRecord(id, activity, status)
        {
            PercentComplete = Math.Clamp(percent, 0, 100),
            RecordType = completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        });

    /// <summary>
    /// Writes one image atomically, in the format its extension names (quality for JPEG/WebP), and returns its FileInfo
    /// with the generation parameters as properties.
    /// </summary>
    internal static PSObject SaveImagePublic(GeneratedImage image, string path, bool force, int quality = ImageFormats.DefaultQuality)
    {
        ImageFile.Save(path, force, image.Pixels, image.Width, image.Height, image.Parameters(), quality);
        var result = PSObject.AsPSObject(new FileInfo(path));
        var e = image.Embedding;
        void Add(string name, object? value) => result.Properties.Add(new PSNoteProperty(name, value));
        Add("Prompt", image.Decoder.Prompt ?? e.Prompt);
        Add("NegativePrompt", image.Decoder.NegativePrompt ?? e.NegativePrompt);
        Add("Seed", image.Seed);
        Add("Width", image.Width);
        Add("Height", image.Height);
        Add("PromptIndex", e.PromptIndex);
        Add("ImageIndex", e.ImageIndex);
        Add("PriorSteps", e.PriorSteps);
        Add("PriorTimesteps", e.PriorTimesteps);
        Add("PriorGuidanceScale", e.PriorGuidanceScale);
        Add("DecoderSteps", image.Decoder.DecoderTimesteps is null ? image.Decoder.DecoderSteps : null);
        Add("DecoderTimesteps", image.Decoder.DecoderTimesteps?.ToArray());
        Add("DecoderGuidanceScale", image.Decoder.DecoderGuidanceScale);
        Add("PriorSeed", e.Seed);
        Add("Source", e.Source);
        Add("ModelName", image.ModelName);
        Add("ModelFamily", image.ModelFamily);
        return result;
    }
}
