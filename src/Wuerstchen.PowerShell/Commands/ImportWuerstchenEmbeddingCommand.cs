using System.Management.Automation;
using Wuerstchen.Core.IO;

namespace Wuerstchen.PowerShell;

/// <summary>
/// <para type="synopsis">Reads embeddings written by Export-WuerstchenEmbedding (or any float32 [N,16,h,w] .npy).</para>
/// </summary>
[Cmdlet(VerbsData.Import, "WuerstchenEmbedding", DefaultParameterSetName = PathSet)]
[OutputType(typeof(Wuerstchen.Core.WuerstchenEmbedding))]
public sealed class ImportWuerstchenEmbeddingCommand : WuerstchenCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>.npy files; wildcards are expanded.</summary>
    [Parameter(ParameterSetName = PathSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[] Path { get; set; } = Array.Empty<string>();

    /// <summary>.npy files, taken as written (no wildcards); Get-ChildItem's output binds here.</summary>
    [Parameter(ParameterSetName = LiteralPathSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = Array.Empty<string>();

    protected override void ProcessRecord()
    {
        bool literal = ParameterSetName == LiteralPathSet;
        foreach (var p in literal ? LiteralPath : Path)
        {
            Guarded(() =>
            {
                // one bad file is an error for that file; the files after it are still read
                foreach (var file in ProviderPaths.ResolveFiles(this, p, literal, literal ? "-LiteralPath" : "-Path"))
                {
                    Guarded(() => WriteObject(EmbeddingFile.Read(file, warn: WriteWarning), enumerateCollection: true), file);
                }
            }, p);
        }
    }
}
