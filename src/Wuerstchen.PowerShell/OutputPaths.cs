using System.Globalization;
using System.Text;
using Wuerstchen.Core;
using Wuerstchen.Core.IO;

namespace Wuerstchen.PowerShell;

/// <summary>
/// Where images go. -OutputPath is a folder (created if missing) or, when it ends in .png, .jpg, .jpeg or .webp, a file
/// name whose extension picks the format (the second and later images of a call get -1, -2 … before the extension;
/// another image extension such as .gif is UnsupportedImageFormat, see ImageFormats.ForOutputPath). Default names are readable and unique:
/// prompt slug, seed, index, and a counter when the name is taken. Explicit names that exist are an
/// error unless -Force.
/// </summary>
/// <summary>One image's file: <see cref="Exists"/> when it is already there with the same parameters (skipped).</summary>
internal readonly record struct OutputTarget(string Path, bool Exists);

internal sealed class OutputPaths
{
    private readonly string _folder;
    private readonly string? _fileName;
    private readonly bool _force;
    private readonly HashSet<string> _reserved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _stems = new(StringComparer.Ordinal);

    private OutputPaths(string folder, string? fileName, bool force)
    {
        _folder = folder;
        _fileName = fileName;
        _force = force;
    }

    /// <param name="resolvedPath">Provider path of -OutputPath, or null for the current folder.</param>
    /// <param name="currentFolder">The current file-system location.</param>
    /// <param name="force">Whether existing explicit files may be overwritten.</param>
    public static OutputPaths Create(string? resolvedPath, string currentFolder, bool force)
    {
        if (resolvedPath is null)
        {
            return new OutputPaths(currentFolder, null, force);
        }

        // an existing file that is not an image we write is OutputPathIsFile below (more to the point than its extension)
        bool existingOther = File.Exists(resolvedPath) && ImageFormats.FromExtension(Path.GetExtension(resolvedPath)) is null;
        if (!existingOther && !Directory.Exists(resolvedPath) && ImageFormats.ForOutputPath(resolvedPath) is not null)
        {
            var parent = Path.GetDirectoryName(resolvedPath) ?? currentFolder;
            if (!Directory.Exists(parent))
            {
                throw new WuerstchenException("OutputFolderNotFound", WuerstchenErrorKind.ObjectNotFound,
                    $"The folder '{parent}' of the output file '{resolvedPath}' does not exist.", resolvedPath);
            }

            return new OutputPaths(parent, Path.GetFileName(resolvedPath), force);
        }

        if (File.Exists(resolvedPath))
        {
            throw new WuerstchenException("OutputPathIsFile", WuerstchenErrorKind.InvalidArgument,
                $"The output path '{resolvedPath}' is an existing file that is not an image; give a folder or a file name ending in {string.Join(", ", ImageFormats.SupportedExtensions)}.", resolvedPath);
        }

        return new OutputPaths(resolvedPath, null, force);
    }

    /// <summary>Creates the output folder when it is missing (called only once something will be written).</summary>
    public void EnsureFolder()
    {
        if (Directory.Exists(_folder))
        {
            return;
        }

        try
        {
            // remember the first folder this call creates, so a failed or stopped call can take it away again
            var missing = _folder;
            while (Path.GetDirectoryName(missing) is { } parent && !Directory.Exists(parent))
            {
                missing = parent;
            }

            Directory.CreateDirectory(_folder);
            _created = missing;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new WuerstchenException("OutputFolderNotCreated", WuerstchenErrorKind.WriteError,
                $"The output folder '{_folder}' could not be created: {ex.Message}", _folder, ex);
        }
    }

    private string? _created;

    /// <summary>
    /// After a failed load or Ctrl+C: removes the folders <see cref="EnsureFolder"/> created if nothing was written
    /// into them, so no empty output folder is left behind. Folders that existed before are never touched.
    /// </summary>
    public void RemoveCreatedIfEmpty()
    {
        if (_created is null)
        {
            return;
        }

        try
        {
            if (!Directory.EnumerateFileSystemEntries(_created, "*", SearchOption.AllDirectories).Any(e => File.Exists(e)))
            {
                Directory.Delete(_created, recursive: true);
                _created = null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // best effort: the folder stays, as before
        }
    }

    /// <summary>
    /// Where an image goes. A default name is the prompt's slug, the seed and the image's <paramref name="imageIndex"/>
    /// (its ImageIndex: the same row gets the same name from New-WuerstchenImage and from Get-… | ConvertFrom-…), with
    /// -1, -2 … when an earlier image of this run has it: names depend only on the rows and their order, so a re-run
    /// names every row as before. An explicit file name gets -1, -2 … for the second and later images of the run. An
    /// existing file that already holds <paramref name="planned"/> is skipped with <paramref name="skipExisting"/>, an
    /// error without it (nor -Force); a default name held by another image moves on to the next number, also with
    /// -Force, which overwrites only the same image (made again).
    /// </summary>
    public OutputTarget For(string prompt, long seed, int imageIndex, GenerationParameters? planned = null, bool skipExisting = false)
    {
        if (_fileName is not null)
        {
            int sequence = _sequence++;
            var name = sequence == 0 ? _fileName : $"{Path.GetFileNameWithoutExtension(_fileName)}-{sequence}{Path.GetExtension(_fileName)}";
            var path = Path.Combine(_folder, name);
            if (File.Exists(path) && !_reserved.Contains(path))
            {
                if (skipExisting && Holds(path, planned))
                {
                    return new OutputTarget(path, Exists: true);
                }

                if (!_force)
                {
                    throw Exists(path, Holds(path, planned));
                }
            }

            _reserved.Add(path);
            return new OutputTarget(path, Exists: false);
        }

        var stem = $"{Slug(prompt)}-{SeedText(seed)}-{imageIndex.ToString(CultureInfo.InvariantCulture)}";
        for (int n = 0; ; n++)
        {
            var path = Path.Combine(_folder, n == 0 ? stem + ".png" : $"{stem}-{n}.png");
            if (_reserved.Contains(path))
            {
                continue; // an earlier image of this run: never replaced
            }

            if (File.Exists(path))
            {
                bool same = Holds(path, planned);
                if (!same && !(_force && planned is null))
                {
                    continue; // another image holds this name: never replaced, with -Force neither (it would be lost)
                }

                if (!_force)
                {
                    if (skipExisting)
                    {
                        return new OutputTarget(path, Exists: true);
                    }

                    throw Exists(path, same: true);
                }
            }

            _reserved.Add(path);
            _stems[path] = stem;
            return new OutputTarget(path, Exists: false);
        }
    }

    private int _sequence;

    /// <summary>Whether the file at <paramref name="path"/> records exactly <paramref name="planned"/> (unreadable: no).</summary>
    private static bool Holds(string path, GenerationParameters? planned)
    {
        if (planned is null)
        {
            return false;
        }

        try
        {
            return planned.IsRecordedIn(ImageFile.ReadParameters(path));
        }
        catch (Exception ex) when (ex is WuerstchenException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return false;
        }
    }

    private static WuerstchenException Exists(string path, bool same) => new("OutputFileExists", WuerstchenErrorKind.WriteError,
        same
            ? $"The file '{path}' already holds this image (same parameters); use -SkipExisting to make only what is missing, or -Force to make it again."
            : $"The file '{path}' already exists; use -Force to overwrite it (or another -OutputPath).", path);

    /// <summary>
    /// The next free name for a default-named image whose name was taken between <see cref="For"/> and the
    /// write (another runspace writing into the same folder); null for explicit names and with -Force.
    /// </summary>
    public string? NextFree(string path)
    {
        if (_force || !_stems.TryGetValue(path, out var stem))
        {
            return null;
        }

        string next = path;
        for (int n = 1; File.Exists(next) || _reserved.Contains(next); n++)
        {
            next = Path.Combine(_folder, $"{stem}-{n}.png");
        }

        _reserved.Add(next);
        _stems[next] = stem;
        return next;
    }

    /// <summary>
    /// Lower-case letters and digits of the prompt in any script (東京の夜景 stays; file systems accept letters), words
    /// joined by '-', at most 48 characters. Accents on Latin letters are dropped ("é" → "e"); marks that belong to
    /// other scripts' letters (Japanese dakuten, Devanagari vowel signs) are kept.
    /// </summary>
    public static string Slug(string prompt)
    {
        var sb = new StringBuilder();
        bool dash = false;
        string text;
        try
        {
            text = prompt.Normalize(NormalizationForm.FormKD); // "é" → "e" + accent, full-width letters → ASCII
        }
        catch (ArgumentException)
        {
            text = prompt; // a lone surrogate: nothing to normalise for the slug
        }

        foreach (var ch in text)
        {
            var category = char.GetUnicodeCategory(ch);
            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark)
            {
                if (sb.Length > 0 && !char.IsAscii(sb[^1]) && sb.Length < 48)
                {
                    sb.Append(ch); // part of the letter before it
                }
            }
            else if (char.IsLetterOrDigit(ch))
            {
                if (sb.Length >= 48)
                {
                    break;
                }

                if (dash && sb.Length > 0)
                {
                    sb.Append('-');
                }

                sb.Append(char.ToLowerInvariant(ch));
                dash = false;
            }
            else if (ch is ' ' or '-' or '_' or ',' or '.' or '\t' or '、' or '。' or '，')
            {
                dash = true;
            }
        }

        string slug = sb.ToString().Normalize(NormalizationForm.FormC).TrimEnd('-');
        return slug.Length == 0 ? "image" : slug;
    }

    /// <summary>The seed in a name: "n5" for -5, so the name never holds "--".</summary>
    public static string SeedText(long seed) => seed.ToString(CultureInfo.InvariantCulture).Replace("-", "n", StringComparison.Ordinal);
}
