using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Microsoft.PowerShell.Commands;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>Tab completion for -Width/-Height: the valid sizes (128-pixel steps), those starting with what was typed first.</summary>
public sealed class ImageSizeCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        for (int size = ImageSize.Min; size <= ImageSize.Max; size += ImageSize.Step)
        {
            var text = size.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (text.StartsWith(wordToComplete, StringComparison.Ordinal))
            {
                yield return new CompletionResult(text, text, CompletionResultType.ParameterValue, $"{text} pixels");
            }
        }
    }
}

/// <summary>Tab completion for -ModelPath: folders only (a model is a folder), relative to the current location.</summary>
public sealed class FolderCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        var word = wordToComplete.Trim('\'', '"');
        using var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
        ps.AddCommand("Get-ChildItem").AddParameter("Path", word + "*").AddParameter("Directory").AddParameter("ErrorAction", "Ignore");
        foreach (var item in ps.Invoke())
        {
            if (item.BaseObject is not DirectoryInfo dir || item.Properties["PSProvider"]?.Value is not ProviderInfo { ImplementingType: var t } || t != typeof(FileSystemProvider))
            {
                continue;
            }

            // keep what the user typed in front (a relative path stays relative)
            string sep = word.Contains('\\') && !word.Contains('/') ? "\\" : "/";
            int cut = Math.Max(word.LastIndexOf('/'), word.LastIndexOf('\\'));
            string text = (cut >= 0 ? word[..(cut + 1)] : "") + dir.Name;
            if (cut < 0 && !word.StartsWith('.'))
            {
                text = "." + sep + text;
            }

            string quoted = text.Contains(' ') || text.Contains('\'') ? $"'{text.Replace("'", "''")}'" : text;
            yield return new CompletionResult(quoted, dir.Name, CompletionResultType.ProviderContainer, dir.FullName);
        }
    }
}
