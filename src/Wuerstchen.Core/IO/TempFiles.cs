using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace Wuerstchen.Core.IO;

/// <summary>
/// The temporary files <see cref="AtomicFile"/> writes before renaming: hidden, ".{name}.p{pid}.{8 hex}.tmp", the name
/// shortened so the whole stays within the 255 bytes a file name may have (a legal 250-character output name must not
/// fail because of the suffix). A killed process leaves its temporary file behind; the first write into a folder
/// removes the stale ones of this module (its own pattern only), so they never pile up.
/// </summary>
internal static partial class TempFiles
{
    /// <summary>A write of one file never takes this long: an older temporary file of ours is a killed run's.</summary>
    private static readonly TimeSpan StaleAfter = TimeSpan.FromHours(1);

    /// <summary>Younger than this, a temporary file is left alone even if its process is gone (another host's pid).</summary>
    private static readonly TimeSpan GoneAfter = TimeSpan.FromMinutes(1);

    private const int MaxNameBytes = 255;

    private static readonly ConcurrentDictionary<string, bool> Cleaned = new(StringComparer.Ordinal);

    // earlier versions wrote ".{name}.{8 hex}.tmp" (no pid)
    [GeneratedRegex(@"^\..+?(?:\.p(?<pid>\d{1,10}))?\.[0-9a-f]{8}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    /// <summary>A fresh temporary name for <paramref name="fileName"/>.</summary>
    public static string NameFor(string fileName)
    {
        string suffix = $".p{Environment.ProcessId}.{Guid.NewGuid().ToString("N")[..8]}.tmp";
        int room = MaxNameBytes - 1 - Encoding.UTF8.GetByteCount(suffix);
        var name = fileName;
        while (Encoding.UTF8.GetByteCount(name) > room)
        {
            // drop whole UTF-16 units from the end, never half a surrogate pair
            name = name[..(char.IsLowSurrogate(name[^1]) && name.Length > 1 ? name.Length - 2 : name.Length - 1)];
        }

        return "." + name + suffix;
    }

    /// <summary>Removes this module's stale temporary files from <paramref name="folder"/>, once per folder and process.</summary>
    public static void RemoveStale(string folder)
    {
        if (!Cleaned.TryAdd(folder, true))
        {
            return;
        }

        try
        {
            var now = DateTime.UtcNow;
            foreach (var file in new DirectoryInfo(folder).EnumerateFiles(".*.tmp"))
            {
                var match = Pattern().Match(file.Name);
                if (match.Success && IsStale(match, now - file.LastWriteTimeUtc))
                {
                    file.Delete();
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // tidying is best effort: the write itself reports what matters
        }
    }

    private static bool IsStale(Match match, TimeSpan age)
    {
        if (age > StaleAfter)
        {
            return true;
        }

        // a process of this machine that is gone (Linux: no /proc entry) will not rename its file any more
        return age > GoneAfter && OperatingSystem.IsLinux() && match.Groups["pid"].Success
            && int.TryParse(match.Groups["pid"].Value, out int pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}");
    }
}
