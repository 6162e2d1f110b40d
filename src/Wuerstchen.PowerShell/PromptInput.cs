using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// Turns what was bound to -Prompt into prompt texts. -Prompt is typed object[] on purpose: with string[],
/// PowerShell converted any pipeline object without a Prompt property (a CSV row whose column is named
/// 'prompt_text') to its text "@{prompt_text=…}" and rendered that. As object[], such a row binds as itself
/// and is refused here; a row with a Prompt property binds as itself too and its Prompt is used.
/// </summary>
internal static class PromptInput
{
    /// <summary>
    /// The prompts of one record. From the pipeline (<paramref name="fromPipeline"/>), empty and whitespace-only texts
    /// are left out (the caller warns when none is left: a blank line is no request for an unconditional image); at the
    /// command line '' stays the unconditional prompt. A Prompt property holding several texts gives several prompts.
    /// </summary>
    public static string[] Resolve(object?[]? input, bool fromPipeline)
    {
        if (input is null)
        {
            throw Null();
        }

        var prompts = new List<string>(input.Length);
        foreach (var item in input)
        {
            foreach (var text in One(item))
            {
                if (!fromPipeline || !string.IsNullOrWhiteSpace(text))
                {
                    prompts.Add(text);
                }
            }
        }

        return prompts.ToArray();
    }

    /// <summary>"Pipeline record 12 (prompt 'a red fox…')": with hundreds of CSV rows the user must find the bad one.</summary>
    public static string Context(int record, object?[]? prompts)
    {
        object? first = prompts is { Length: > 0 } ? prompts[0] : null;
        if (first is PSObject { BaseObject: not string } pso && pso.Properties["Prompt"] is { } property)
        {
            first = property.Value is PSObject { BaseObject: var inner } ? inner : property.Value;
            first = first is System.Collections.IList { Count: > 0 } list ? list[0] : first;
        }

        string text = first is null ? "" : first is PSObject p ? p.ToString() : first.ToString() ?? "";
        text = Core.IO.TextExcerpt.Of(text.Length > 40 ? text[..40] + "…" : text);
        return $"Pipeline record {record} (prompt '{text}')";
    }

    private static IEnumerable<string> One(object? item)
    {
        var value = item is PSObject pso ? pso.BaseObject : item;
        switch (value)
        {
            case null:
                throw Null();
            case string s:
                return new[] { s };
            case char or bool or IConvertible when value.GetType().IsPrimitive || value is decimal:
                return new[] { LanguagePrimitives.ConvertTo<string>(value) };
        }

        var obj = PSObject.AsPSObject(item);
        if (obj.Properties["Prompt"] is not { } property)
        {
            throw Missing(obj);
        }

        var inner = property.Value is PSObject p ? p.BaseObject : property.Value;
        return inner switch
        {
            null => throw Null(),
            // a Prompt property that is itself a record: refuse, never render its text
            PSCustomObject or System.Collections.IDictionary => throw Missing(obj),
            string s => new[] { s },
            // several texts in one property make several prompts, as -Prompt 'a','b' does
            System.Collections.IEnumerable many => many.Cast<object?>().SelectMany(One).ToArray(),
            _ => new[] { LanguagePrimitives.ConvertTo<string>(inner) },
        };
    }

    private static WuerstchenException Null() => new("EmptyPrompt", WuerstchenErrorKind.InvalidArgument,
        "'Prompt' is $null: give a text (an empty text '' is unconditional generation).", null);

    private static WuerstchenException Missing(PSObject obj)
    {
        var names = obj.Properties.Select(p => p.Name).ToArray();
        string has = names.Length == 0 ? "no properties" : "the properties " + string.Join(", ", names);
        // one property whose name holds ';' (or a tab): the CSV was read with the wrong delimiter
        string delimiter = names.Length == 1 && names[0].IndexOfAny(new[] { ';', '\t' }) >= 0 && names[0].Contains("Prompt", StringComparison.OrdinalIgnoreCase)
            ? $" The CSV looks separated by '{(names[0].Contains(';') ? ";" : "`t")}': read it with Import-Csv -Delimiter '{(names[0].Contains(';') ? ";" : "`t")}'."
            : "";
        return new WuerstchenException("PromptPropertyMissing", WuerstchenErrorKind.InvalidArgument,
            $"The pipeline object ({obj.BaseObject.GetType().Name}) has no Prompt property, only {has}; nothing was rendered for it. " +
            "A CSV column with the prompts must be named 'Prompt' (rename it, or use Select-Object @{ n = 'Prompt'; e = { $_.<column> } })." + delimiter, obj);
    }
}
