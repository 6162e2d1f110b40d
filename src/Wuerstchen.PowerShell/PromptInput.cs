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
    public static string[] Resolve(object?[] input)
    {
        var prompts = new List<string>(input.Length);
        foreach (var item in input)
        {
            prompts.Add(One(item));
        }

        return prompts.ToArray();
    }

    private static string One(object? item)
    {
        var value = item is PSObject pso ? pso.BaseObject : item;
        switch (value)
        {
            case null:
                throw new WuerstchenException("EmptyPrompt", WuerstchenErrorKind.InvalidArgument,
                    "A prompt is null; give a text (an empty text '' is unconditional generation).", item);
            case string s:
                return s;
            case char or bool or IConvertible when value.GetType().IsPrimitive || value is decimal:
                return LanguagePrimitives.ConvertTo<string>(value);
        }

        var obj = PSObject.AsPSObject(item);
        if (obj.Properties["Prompt"] is { } property)
        {
            var inner = property.Value is PSObject p ? p.BaseObject : property.Value;
            return inner is PSCustomObject or System.Collections.IDictionary
                ? throw Missing(obj) // a Prompt property that is itself a record: refuse, never render its text
                : inner is null ? "" : LanguagePrimitives.ConvertTo<string>(inner); // an empty CSV cell arrives as ""
        }

        throw Missing(obj);
    }

    private static WuerstchenException Missing(PSObject obj)
    {
        var names = obj.Properties.Select(p => p.Name).ToArray();
        string has = names.Length == 0 ? "no properties" : "the properties " + string.Join(", ", names);
        return new WuerstchenException("PromptPropertyMissing", WuerstchenErrorKind.InvalidArgument,
            $"The pipeline object ({obj.BaseObject.GetType().Name}) has no Prompt property, only {has}; nothing was rendered for it. " +
            "A CSV column with the prompts must be named 'Prompt' (rename it, or use Select-Object @{ n = 'Prompt'; e = { $_.<column> } }).", obj);
    }
}
