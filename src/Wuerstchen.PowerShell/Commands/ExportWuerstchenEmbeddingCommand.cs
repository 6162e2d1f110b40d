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
            var path = DataPath(ProviderPaths.Resolve(this, Path, "-Path"));
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

    /// <summary>
    /// The .npy to write, checked before anything is: a folder, a name that is its own sidecar (x.json would be
    /// overwritten by its metadata), another extension and a missing folder are errors naming what to write; a name
    /// without an extension gets .npy (Import-WuerstchenEmbedding and numpy look for it).
    /// </summary>
    private static string DataPath(string path)
    {
        if (Directory.Exists(path))
        {
            throw new WuerstchenException("PathIsFolder", WuerstchenErrorKind.InvalidArgument,
                $"'-Path' '{path}' is a folder; give a file name in it, e.g. '{System.IO.Path.Combine(path, "embeddings.npy")}'.", path);
        }

        if (string.IsNullOrEmpty(System.IO.Path.GetExtension(path)))
        {
            path += ".npy";
        }

        if (string.Equals(EmbeddingFile.SidecarPath(path), path, StringComparison.OrdinalIgnoreCase))
        {
            throw new WuerstchenException("PathIsSidecar", WuerstchenErrorKind.InvalidArgument,
                $"'-Path' '{path}' is the name of the metadata file (.json) written beside the data; name the data '{System.IO.Path.ChangeExtension(path, ".npy")}'.", path);
        }

        // data in any other file name (x.txt, x.png) would be a .npy under a false name, which nothing reads as one: refused
        // as New-WuerstchenImage -OutputPath x.gif is, before anything is written
        if (!string.Equals(System.IO.Path.GetExtension(path), ".npy", StringComparison.OrdinalIgnoreCase))
        {
            throw new WuerstchenException("UnsupportedEmbeddingFormat", WuerstchenErrorKind.InvalidArgument,
                $"Embeddings are written as .npy, not as '{System.IO.Path.GetExtension(path)}' ('{TextExcerpt.Of(path, 200)}'): give a file name ending in .npy "
                + "(a name without an extension gets .npy).", path);
        }

        var folder = System.IO.Path.GetDirectoryName(path);
        // a file where the folder should be is left to the writer (OutputWriteFailed names it)
        if (!string.IsNullOrEmpty(folder) && !Directory.Exists(folder) && !File.Exists(folder))
        {
            throw new WuerstchenException("OutputFolderNotFound", WuerstchenErrorKind.ObjectNotFound,
                $"The folder '{folder}' of '-Path' '{path}' does not exist; create it first (New-Item -ItemType Directory).", path);
        }

        return path;
    }
}
