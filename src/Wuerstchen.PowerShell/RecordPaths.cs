using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// The one rule for paths that come from a record (a CSV cell, a pipeline object's property) rather than from the
/// user's command line or $PSDefaultParameterValues. A prompt list is data people share, so a record's OutputPath is
/// relative to the run's output folder (the current location) and may not leave it: not absolute, rooted, on a drive
/// or provider ('C:', 'Temp:', 'FileSystem::'), under '~', nor out of it by '..' after normalisation or through a
/// symbolic link or junction after resolving every link. -AllowRecordOutputPath on the command line lifts the rule.
/// A record's ModelPath is not held to it: a model folder is only read (README, "Security notes").
/// </summary>
internal static class RecordPaths
{
    /// <summary>The ErrorRecord id of a refused record path.</summary>
    public const string OutsideId = "RecordOutputPathOutside";

    private const int MaxLinks = 40; // what Linux allows before ELOOP

    private static readonly StringComparison Comparison = OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;

    /// <summary>
    /// The provider path of a record's OutputPath <paramref name="value"/>, which must stay inside
    /// <paramref name="folder"/> (the run's output folder); else a <see cref="OutsideId"/> error naming the value.
    /// </summary>
    public static string ResolveOutput(PSCmdlet cmdlet, string value, string folder)
    {
        string text = value.Trim();
        if (text.StartsWith('~') || text.StartsWith('/') || text.StartsWith('\\') || text.Contains(':') || Path.IsPathRooted(text))
        {
            throw Outside(value, folder, "is not relative to it (absolute, on a drive or under '~')");
        }

        string resolved = ProviderPaths.Resolve(cmdlet, value, "OutputPath");
        if (!Inside(resolved, folder))
        {
            throw Outside(value, folder, $"leaves it (it names '{resolved}')");
        }

        string real;
        try
        {
            real = RealPath(resolved);
            if (Inside(real, RealPath(folder)))
            {
                return resolved;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Outside(value, folder, $"leads through symbolic links that could not be followed ({ex.Message.TrimEnd('.')})");
        }

        throw Outside(value, folder, $"leaves it through a symbolic link (it leads to '{real}')");
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="folder"/> or inside it, after normalisation.</summary>
    internal static bool Inside(string path, string folder)
    {
        string p = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        string f = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        string prefix = Path.EndsInDirectorySeparator(f) ? f : f + Path.DirectorySeparatorChar; // the root keeps its separator
        return string.Equals(p, f, Comparison) || p.StartsWith(prefix, Comparison);
    }

    /// <summary>
    /// The path with every symbolic link and junction on it resolved (what the file system would write through); the
    /// part that does not exist yet is kept as it is. A chain of more than 40 links counts as leading nowhere safe.
    /// </summary>
    internal static string RealPath(string path, int depth = 0)
    {
        if (depth > MaxLinks)
        {
            throw new IOException($"More than {MaxLinks} symbolic links lead from '{path}'.");
        }

        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full) ?? "";
        string current = root;
        foreach (var part in full[root.Length..].Split(new[] { Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar }, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            if (new FileInfo(current).LinkTarget is { } target)
            {
                // a relative target is relative to the link's folder, which is real already
                current = RealPath(Path.GetFullPath(target, Path.GetDirectoryName(current) ?? root), depth + 1);
            }
        }

        return current;
    }

    private static WuerstchenException Outside(string value, string folder, string why) =>
        new(OutsideId, WuerstchenErrorKind.PermissionDenied,
            $"The record's OutputPath '{value}' {why}, but a record may only write inside the output folder '{folder}'. "
            + "Give a relative path inside it (e.g. 'cats/cat.png'), or, if you trust this list, pass -AllowRecordOutputPath "
            + "(or -OutputPath on the command line, which wins over the column).", value);
}
