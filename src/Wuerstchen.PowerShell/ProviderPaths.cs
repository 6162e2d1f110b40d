using System.Management.Automation;
using Microsoft.PowerShell.Commands;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// PowerShell paths → file-system paths, as PowerShell users expect: wildcards in -Path/-ImagePath, none in
/// -LiteralPath; a drive that does not exist, another provider (Env:, HKLM:) and a folder where a file is
/// wanted are errors naming the path, never a raw .NET message or a silent write into the start folder.
/// Outputs come back as the provider's own items (PSPath, Mode, Length … as Get-Item gives them).
/// </summary>
internal static class ProviderPaths
{
    /// <summary>One path, not required to exist (an output, a model folder); must be on the file system.</summary>
    public static string Resolve(PSCmdlet cmdlet, string path, string parameter)
    {
        // '   ' would resolve to a folder named three spaces (a name no one means and few tools show)
        if (path.Split('/', '\\').Any(part => part.Length > 0 && string.IsNullOrWhiteSpace(part)))
        {
            throw new WuerstchenException("InvalidPath", WuerstchenErrorKind.InvalidArgument,
                $"{parameter} '{path}' is or holds a name of only white space; give a folder or file name (e.g. {parameter} ./out).", path);
        }

        string resolved;
        ProviderInfo provider;
        try
        {
            resolved = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out provider, out _);
        }
        catch (System.Management.Automation.DriveNotFoundException ex)
        {
            throw new WuerstchenException("DriveNotFound", WuerstchenErrorKind.ObjectNotFound,
                $"The drive of {parameter} '{path}' does not exist ({ex.Message.TrimEnd('.')}). Give a path on an existing drive (Get-PSDrive lists them).", path, ex);
        }
        catch (ProviderNotFoundException ex)
        {
            throw NotFileSystem(path, parameter, ex);
        }

        return provider.ImplementingType == typeof(FileSystemProvider) ? resolved : throw NotFileSystem(path, parameter, null);
    }

    /// <summary>
    /// The files an input parameter names: wildcards expand unless <paramref name="literal"/> (a pattern that matches
    /// nothing gives nothing, as with Get-Item); a path without wildcards is passed on even when it does not exist,
    /// so the reader reports it with its own error. A folder is an error.
    /// </summary>
    public static IEnumerable<string> ResolveFiles(PSCmdlet cmdlet, string path, bool literal, string parameter)
    {
        IEnumerable<string> files;
        if (literal)
        {
            files = new[] { Resolve(cmdlet, path, parameter) };
        }
        else if (!WildcardPattern.ContainsWildcardCharacters(path))
        {
            // no wildcard, but perhaps escaped ones ('a`[1`].png'), which name the characters themselves, as in Get-Item -Path
            files = new[] { Resolve(cmdlet, WildcardPattern.Unescape(path), parameter) };
        }
        else
        {
            try
            {
                files = cmdlet.SessionState.Path.GetResolvedProviderPathFromPSPath(path, out var provider) is var found
                    && provider.ImplementingType == typeof(FileSystemProvider) ? found : throw NotFileSystem(path, parameter, null);
            }
            catch (ItemNotFoundException)
            {
                files = Array.Empty<string>();
            }
            catch (System.Management.Automation.DriveNotFoundException)
            {
                files = new[] { Resolve(cmdlet, path, parameter) }; // throws with the message above
            }
            catch (ProviderNotFoundException ex)
            {
                throw NotFileSystem(path, parameter, ex);
            }
            catch (WildcardPatternException ex)
            {
                // a '[' without its ']' (a file name may hold one): PowerShell's own exception ended the call unexpectedly
                throw new WuerstchenException("InvalidWildcard", WuerstchenErrorKind.InvalidArgument,
                    $"{parameter} '{path}' is not a valid wildcard pattern ({ex.Message.TrimEnd('.')}). To name a file whose name holds '[' or ']', "
                    + "use -LiteralPath, or escape them with a backtick ('`[').", path, ex);
            }
        }

        foreach (var file in files)
        {
            if (Directory.Exists(file))
            {
                throw new WuerstchenException("PathIsFolder", WuerstchenErrorKind.InvalidArgument,
                    $"{parameter} '{file}' is a folder, not a file. Name a file, or the files in it with a wildcard (e.g. '{Path.Combine(file, "*")}').", file);
            }

            yield return file;
        }
    }

    private static WuerstchenException NotFileSystem(string path, string parameter, Exception? inner) =>
        new("PathNotFileSystem", WuerstchenErrorKind.InvalidArgument,
            $"{parameter} '{path}' is not a file-system path; give a file or folder on a file-system drive (C:, /, ~, a New-PSDrive of the FileSystem provider).", path, inner);

    /// <summary>The file-system provider's item for a written file (what Get-Item gives), with the given properties added.</summary>
    public static PSObject FileItem(PSCmdlet cmdlet, string path, IReadOnlyList<KeyValuePair<string, object?>>? properties)
    {
        var item = cmdlet.InvokeProvider.Item.Get(new[] { path }, force: true, literalPath: true)[0];
        if (properties is not null)
        {
            foreach (var (name, value) in properties)
            {
                item.Properties.Add(new PSNoteProperty(name, value));
            }

            // the format file's view for images: Name, Prompt, Seed, size
            item.TypeNames.Insert(0, ImageFileTypeName);
        }

        return item;
    }

    /// <summary>The type name of image outputs, for the default view in Wuerstchen.format.ps1xml.</summary>
    public const string ImageFileTypeName = "Wuerstchen.PowerShell.ImageFile";
}
