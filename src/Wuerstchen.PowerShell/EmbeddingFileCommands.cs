using System.Management.Automation;
using Wuerstchen.Core;
using Wuerstchen.Core.IO;

namespace Wuerstchen.PowerShell;

/// <summary>
/// <para type="synopsis">Writes piped embeddings into one float32 [N,16,h,w] .npy file, with a .json sidecar for their metadata.</para>
/// </summary>
[Cmdlet(VerbsData.Export, "WuerstchenEmbedding", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ExportWuerstchenEmbeddingCommand : WuerstchenCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [ValidateNotNull]
    public WuerstchenEmbedding[] InputObject { get; set; } = Array.Empty<WuerstchenEmbedding>();

    [Parameter]
    public SwitchParameter Force { get; set; }

    private readonly List<WuerstchenEmbedding> _items = new();

    protected override void ProcessRecord() => _items.AddRange(InputObject.Where(e => e is not null));

    protected override void EndProcessing()
    {
        Guarded(() =>
        {
            var path = GetUnresolvedProviderPathFromPSPath(Path);
            if (_items.Count == 0)
            {
                throw new WuerstchenException("EmptyEmbedding", WuerstchenErrorKind.InvalidArgument, "No embeddings were piped to Export-WuerstchenEmbedding.", path);
            }

            if (!ShouldProcess(path, $"Write {_items.Count} embedding(s)"))
            {
                return;
            }

            EmbeddingFile.Write(path, _items, Force.IsPresent);
            WriteObject(new FileInfo(path));
        }, Path);
        base.EndProcessing();
    }
}

/// <summary>
/// <para type="synopsis">Reads embeddings written by Export-WuerstchenEmbedding (or any float32 [N,16,h,w] .npy).</para>
/// </summary>
[Cmdlet(VerbsData.Import, "WuerstchenEmbedding")]
[OutputType(typeof(WuerstchenEmbedding))]
public sealed class ImportWuerstchenEmbeddingCommand : WuerstchenCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = Array.Empty<string>();

    protected override void ProcessRecord()
    {
        foreach (var p in Path)
        {
            Guarded(() =>
            {
                var resolved = GetUnresolvedProviderPathFromPSPath(p);
                foreach (var e in EmbeddingFile.Read(resolved))
                {
                    WriteObject(e);
                }
            }, p);
        }
    }
}

/// <summary>
/// <para type="synopsis">Clears the ONNX Runtime sessions this PowerShell process has cached.</para>
/// </summary>
[Cmdlet(VerbsCommon.Clear, "WuerstchenCache")]
[OutputType(typeof(int))]
public sealed class ClearWuerstchenCacheCommand : PSCmdlet
{
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void EndProcessing()
    {
        int removed = SessionCache.Shared.Clear();
        SessionCache.Shared.Buffers.Clear();
        WriteVerbose($"Released {removed} cached session(s).");
        if (PassThru)
        {
            WriteObject(removed);
        }
    }
}
