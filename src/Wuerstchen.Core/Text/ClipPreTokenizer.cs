using System.Globalization;
using System.Text;

namespace Wuerstchen.Core.Text;

/// <summary>
/// The CLIP pattern <c>&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c>
/// (IGNORECASE) as a hand-written scanner over code points, as Python's regex module evaluates it.
/// </summary>
internal static class ClipPreTokenizer
{

    private enum CharClass { Letter, Number, Space, Other, Skipped }

    private static CharClass Classify(Rune r)
    {
        if (r.Value == 0x0345)
            return CharClass.Skipped;        // regex IGNORECASE quirk: U+0345 folds to ι, so neither [\p{L}] nor [^\s\p{L}\p{N}] matches it
        if (r.IsBmp && PythonText.IsRegexSpace((char)r.Value))
            return CharClass.Space;
        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharClass.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharClass.Number,
            _ => CharClass.Other,
        };
    }

    private static readonly string[] Contractions = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };

    /// <summary>
    /// <c>regex.findall</c> of the CLIP pattern (IGNORECASE) over code points: alternatives are tried in pattern order at each
    /// position, runs are greedy, whitespace (and U+0345) match nothing and are skipped.
    /// </summary>
    internal static List<string> PreTokenize(string s)
    {
        var pieces = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '<')
            {
                if (MatchesLiteral(s, i, ClipTokenizer.StartOfTextLiteral))
                {
                    pieces.Add(s.Substring(i, ClipTokenizer.StartOfTextLiteral.Length));
                    i += ClipTokenizer.StartOfTextLiteral.Length;
                    continue;
                }
                if (MatchesLiteral(s, i, ClipTokenizer.EndOfTextLiteral))
                {
                    pieces.Add(s.Substring(i, ClipTokenizer.EndOfTextLiteral.Length));
                    i += ClipTokenizer.EndOfTextLiteral.Length;
                    continue;
                }
            }
            else if (c == '\'')
            {
                string? contraction = Array.Find(Contractions, x => MatchesLiteral(s, i, x));
                if (contraction is not null)
                {
                    pieces.Add(s.Substring(i, contraction.Length));
                    i += contraction.Length;
                    continue;
                }
            }

            Rune.DecodeFromUtf16(s.AsSpan(i), out Rune rune, out int width);
            CharClass kind = Classify(rune);
            switch (kind)
            {
                case CharClass.Number:
                    pieces.Add(s.Substring(i, width));
                    i += width;
                    break;
                case CharClass.Letter:
                case CharClass.Other:
                    int j = i + width;
                    while (j < s.Length)
                    {
                        Rune.DecodeFromUtf16(s.AsSpan(j), out Rune nextRune, out int nextWidth);
                        if (Classify(nextRune) != kind)
                            break;
                        j += nextWidth;
                    }
                    pieces.Add(s.Substring(i, j - i));
                    i = j;
                    break;
                default:
                    i += width;
                    break;
            }
        }
        return pieces;
    }

    /// <summary>Case-insensitive match of an ASCII pattern literal; like the regex module, 'ſ' (U+017F) matches 's'.</summary>
    private static bool MatchesLiteral(string s, int index, string literal)
    {
        if (index + literal.Length > s.Length)
            return false;
        for (int k = 0; k < literal.Length; k++)
        {
            char c = s[index + k], l = literal[k];
            if (c == l || (char.IsAsciiLetter(c) && (c | 0x20) == l) || (l == 's' && c == '\u017F'))
                continue;
            return false;
        }
        return true;
    }
}
