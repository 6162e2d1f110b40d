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
    [EmbeddingTransformation]
    public WuerstchenEmbedding[] InputObject { get; set; } = Array.Empty<WuerstchenEmbedding>();

    [Parameter]
    public SwitchParameter Force { get; set; }

    private readonly List<WuerstchenEmbedding> _items = new();

    protected override void ProcessRecord() => _items.AddRange(InputObject.Where(e => e is not null));

    protected override void EndProcessing()
    {
        Guarded(() =>
        {
            var path = ProviderPaths.Resolve(this, Path, "-Path");
            if (_items.Count == 0)
            {
                throw new WuerstchenException("EmptyEmbedding", WuerstchenErrorKind.InvalidArgument, "No embeddings were piped to Export-WuerstchenEmbedding.", path);
            }

            foreach (var e in _items)
            {
                EmbeddingChecks.Check(e);
            }

            if (!ShouldProcess(path, $"Write {_items.Count} embedding(s)"))
            {
                return;
            }

            EmbeddingFile.Write(path, _items, Force.IsPresent);
            WriteObject(ProviderPaths.FileItem(this, path, null));
        }, Path);
        base.EndProcessing();
    }
}
