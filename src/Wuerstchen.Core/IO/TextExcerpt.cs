using System.Globalization;
using System.Text;

namespace Wuerstchen.Core.IO;

/// <summary>
/// A value from a file or a prompt, made fit to quote in a message: at most a short excerpt (a 50-million-character
/// line must not become the message), with control characters shown as escapes, because a hostile sidecar or vocabulary
/// could otherwise send terminal escape sequences (colours, cursor moves, titles) through an error message.
/// </summary>
public static class TextExcerpt
{
    public const int DefaultLength = 80;

    /// <summary>The text (null → ""), cut to <paramref name="max"/> characters, control and bidi-override characters as \xNN / \uNNNN.</summary>
    public static string Of(string? text, int max = DefaultLength)
    {
        text ??= "";
        var sb = new StringBuilder(Math.Min(text.Length, max) + 16);
        int i = 0;
        for (; i < text.Length && sb.Length < max; i++)
        {
            char c = text[i];
            if (c < 0x20 || c is >= '\u007F' and <= '\u009F')
            {
                sb.Append("\\x").Append(((int)c).ToString("X2", CultureInfo.InvariantCulture));
            }
            else if (IsInvisibleFormat(c) || char.IsSurrogate(c) && !(i + 1 < text.Length && char.IsSurrogatePair(c, text[i + 1])))
            {
                sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
                if (char.IsHighSurrogate(c) && i + 1 < text.Length)
                {
                    sb.Append(text[++i]);
                }
            }
        }

        return i < text.Length ? $"{sb}… ({text.Length} characters)" : sb.ToString();
    }

    /// <summary>
    /// The whole text with control and bidi-override characters shown as escapes, as <see cref="Of"/> does, but not cut:
    /// for a message the module composed itself, whose values may come from a file name or a file. The text itself
    /// when there is nothing to show differently.
    /// </summary>
    public static string Visible(string? text)
    {
        text ??= "";
        foreach (char c in text)
        {
            if (c < 0x20 || c is >= '\u007F' and <= '\u009F' || IsInvisibleFormat(c) || char.IsSurrogate(c))
            {
                return Of(text, int.MaxValue);
            }
        }

        return text;
    }

    // the bidirectional overrides and isolates reorder what a terminal shows (the "Trojan Source" characters)
    private static bool IsInvisibleFormat(char c) => c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069' or '\u200E' or '\u200F';
}
