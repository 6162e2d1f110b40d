using System.Management.Automation;
using Wuerstchen.Core;
using Wuerstchen.Core.IO;

namespace Wuerstchen.PowerShell;

/// <summary>
/// The image files a generation request reads (image prompts, the init image) as file-system paths: wildcards expanded
/// for -ImagePrompt / -InitImage (a pattern must match), taken as written for their Literal twins, each checked to exist
/// before any network runs, and — when a remake passes the SHA-256 its file recorded — checked to be that picture.
/// </summary>
internal static class ImageInputs
{
    /// <summary>The image prompts in order (-ImagePrompt's first, a ';' list split), or null for none.</summary>
    public static string[]? Prompts(PSCmdlet cmdlet, string[]? patterns, string[]? literal, string[]? sha256)
    {
        var files = new List<string>();
        foreach (var given in patterns ?? Array.Empty<string>())
        {
            var parts = given.Split(';', StringSplitOptions.TrimEntries);
            if (parts.All(string.IsNullOrEmpty))
            {
                throw new WuerstchenException("InvalidImagePrompt", WuerstchenErrorKind.InvalidArgument,
                    $"-ImagePrompt '{TextExcerpt.Of(given)}' names no file; give image files (several separated by ';').", given);
            }

            foreach (var pattern in parts.Where(p => p.Length > 0))
            {
                int before = files.Count;
                files.AddRange(ProviderPaths.ResolveFiles(cmdlet, pattern, false, "-ImagePrompt"));
                if (files.Count == before)
                {
                    throw NotFound("-ImagePrompt", pattern, parts.Length > 1
                        ? $"matches no file (-ImagePrompt splits '{TextExcerpt.Of(given)}' at ';'; use -LiteralImagePrompt for a name that holds ';' or wildcard characters)"
                        : "matches no file; name existing image files (or use -LiteralImagePrompt for a name with wildcard characters)");
                }
            }
        }

        foreach (var path in literal ?? Array.Empty<string>())
        {
            files.AddRange(ProviderPaths.ResolveFiles(cmdlet, path, true, "-LiteralImagePrompt"));
        }

        foreach (var file in files.Where(f => !File.Exists(f)))
        {
            throw NotFound("image prompt", file, "does not exist; name existing image files" + RemakeHint(sha256));
        }

        if (files.Count == 0)
        {
            return null;
        }

        if (sha256 is { Length: > 0 })
        {
            if (sha256.Length != files.Count)
            {
                throw Changed($"The image was made from {sha256.Length} image prompt(s) (ImagePromptSha256) but {files.Count} are given",
                    "give the same files, or leave ImagePromptSha256 out to make it with these", files.Count);
            }

            for (int i = 0; i < files.Count; i++)
            {
                CheckDigest(files[i], sha256[i], "image prompt");
            }
        }

        return files.ToArray();
    }

    /// <summary>The init image (one existing file), or null for none.</summary>
    public static string? Init(PSCmdlet cmdlet, string? pattern, string? literal, string? sha256)
    {
        if (pattern is not null && literal is not null)
        {
            throw new WuerstchenException("ConflictingParameters", WuerstchenErrorKind.InvalidArgument,
                $"-InitImage '{TextExcerpt.Of(pattern)}' and -LiteralInitImage '{TextExcerpt.Of(literal)}' both name an init image (one may come from a record's column); give one of them.", pattern);
        }

        bool isLiteral = literal is not null;
        if ((isLiteral ? literal : pattern) is not { } given)
        {
            return null;
        }

        string name = isLiteral ? "-LiteralInitImage" : "-InitImage";
        var files = ProviderPaths.ResolveFiles(cmdlet, given, isLiteral, name).Take(2).ToArray();
        if (files.Length > 1)
        {
            throw NotFound(name, given, "matches several files; img2img starts from one image. Name one file");
        }

        if (files.Length == 0 || !File.Exists(files[0]))
        {
            throw NotFound(name, given, "names no existing file; name an image file" + (isLiteral ? "" : " (-LiteralInitImage takes a name with wildcard characters as written)") + RemakeHint(sha256));
        }

        if (!string.IsNullOrEmpty(sha256))
        {
            CheckDigest(files[0], sha256, "init image");
        }

        return files[0];
    }

    private static void CheckDigest(string file, string expected, string what)
    {
        var actual = FileDigest.Sha256OrEmpty(file);
        if (!string.Equals(actual, expected.Trim(), StringComparison.OrdinalIgnoreCase))
        {
            throw Changed($"The {what} '{TextExcerpt.Of(file)}' is not the picture the image was made from (SHA-256 recorded {TextExcerpt.Of(expected)}, the file has {actual})",
                $"put the original file there, or leave {(what == "init image" ? "InitImageSha256" : "ImagePromptSha256")} out to make it with this one", file);
        }
    }

    /// <summary>A remake (digests given) reads the recorded names relative to the current folder.</summary>
    private static string RemakeHint(object? sha256) => sha256 is null or "" or string[] { Length: 0 } ? ""
        : " (the image's metadata records file names only: run the remake in the folder that holds them)";

    private static WuerstchenException NotFound(string parameter, string value, string what) =>
        new("ImageFileNotFound", WuerstchenErrorKind.ObjectNotFound, $"{char.ToUpperInvariant(parameter[0]) + parameter[1..]} '{TextExcerpt.Of(value)}' {what}.", value);

    private static WuerstchenException Changed(string what, string todo, object target) =>
        new("ImageInputChanged", WuerstchenErrorKind.InvalidData, $"{what}; {todo}.", target);
}
