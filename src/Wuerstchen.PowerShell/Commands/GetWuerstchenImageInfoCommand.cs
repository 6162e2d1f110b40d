using System.Management.Automation;
using Wuerstchen.Core;
using Wuerstchen.Core.IO;

namespace Wuerstchen.PowerShell;

/// <summary>
/// <para type="synopsis">Reads the generation parameters back from images the module wrote (PNG text, JPEG/WebP XMP).</para>
/// </summary>
/// <remarks>
/// The objects' property names are New-WuerstchenImage's parameter names (Prompt, Seed, Width …, and the image's place in
/// its batch: BatchPrompts, PromptIndex, ImageIndex, ImagesPerPrompt), so piping them to New-WuerstchenImage makes each
/// image again with the same pixels, also one image of a larger batch on its own.
/// </remarks>
[Cmdlet(VerbsCommon.Get, "WuerstchenImageInfo", DefaultParameterSetName = PathSet)]
[OutputType(typeof(PSObject))]
public sealed class GetWuerstchenImageInfoCommand : PSCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralSet = "LiteralPath";

    /// <summary>The images; wildcards are expanded, relative paths are taken from the current location (PSDrives too).</summary>
    [Parameter(ParameterSetName = PathSet, Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[]? Path { get; set; }

    /// <summary>The images, taken as written (no wildcards); Get-ChildItem's output binds here.</summary>
    [Parameter(ParameterSetName = LiteralSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[]? LiteralPath { get; set; }

    protected override void ProcessRecord()
    {
        bool literal = ParameterSetName == LiteralSet;
        foreach (var p in (literal ? LiteralPath : Path)!)
        {
            try
            {
                // one unreadable file is an error for that file; the files after it are still read
                foreach (var file in ProviderPaths.ResolveFiles(this, p, literal, literal ? "-LiteralPath" : "-Path"))
                {
                    Read(file);
                }
            }
            catch (WuerstchenException ex)
            {
                WriteError(WuerstchenCmdlet.ToErrorRecord(ex));
            }
        }
    }

    private void Read(string file)
    {
        try
        {
            var text = ImageFile.ReadParameters(file);
            if (!text.ContainsKey(GenerationParameters.PngKeys.Prompt))
            {
                throw new WuerstchenException("ImageHasNoParameters", WuerstchenErrorKind.InvalidData,
                    $"The image '{file}' records no generation parameters (it was not written by New-WuerstchenImage or ConvertFrom-WuerstchenEmbedding, or its metadata was removed).", file);
            }

            var info = new PSObject();
            info.TypeNames.Insert(0, "Wuerstchen.PowerShell.ImageInfo");
            foreach (var (name, value) in GenerationParameters.FromPngText(text).ToOutputProperties())
            {
                info.Properties.Add(new PSNoteProperty(name, value));
            }

            // the file's own path under another name than -LiteralPath's aliases, so the object binds to no path
            // parameter of New-WuerstchenImage (it names its own output)
            info.Properties.Add(new PSNoteProperty("ImageFile", file));
            WriteObject(info);
        }
        catch (WuerstchenException ex)
        {
            WriteError(WuerstchenCmdlet.ToErrorRecord(ex));
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // one unreadable file (missing, truncated, a FIFO, an oversized text chunk) is an error for that file;
            // the wildcard's other files are still read
            bool missing = ex is FileNotFoundException or DirectoryNotFoundException;
            WriteError(WuerstchenCmdlet.ToErrorRecord(new WuerstchenException(missing ? "ImageFileNotFound" : "InvalidImageFile",
                missing ? WuerstchenErrorKind.ObjectNotFound : WuerstchenErrorKind.InvalidData,
                $"The image '{Wuerstchen.Core.IO.TextExcerpt.Of(file, 200)}' could not be read for its parameters: {Wuerstchen.Core.IO.TextExcerpt.Of(ex.Message, 300)} "
                + "Give a PNG, JPEG or WebP written by New-WuerstchenImage or ConvertFrom-WuerstchenEmbedding.", file, ex)));
        }
    }
}
