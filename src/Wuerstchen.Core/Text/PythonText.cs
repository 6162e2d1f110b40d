using System.Globalization;
using System.Text;

namespace Wuerstchen.Core.Text;

/// <summary>
/// OpenAI CLIP's text clean-up with Python string semantics: <c>whitespace_clean(basic_clean(text)).lower()</c> (lone
/// surrogates, NFC, HTML unescape twice, Python whitespace and <c>str.lower()</c> with the final-sigma rule).
/// </summary>
internal static class PythonText
{

    /// <summary>
    /// OpenAI's <c>whitespace_clean(basic_clean(text)).lower()</c> with ftfy.fix_text reduced to NFC (see the class remarks).
    /// Never throws.
    /// </summary>
    internal static string NormalizeText(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return string.Empty;
        string s = ReplaceLoneSurrogates(text);
        s = ToNfc(s);
        s = HtmlEntities.HtmlUnescape(HtmlEntities.HtmlUnescape(s));
        s = StripPythonWhitespace(s);        // basic_clean: text.strip()
        s = CollapseWhitespace(s);           // whitespace_clean: regex.sub(r'\s+', ' ', text)
        s = StripPythonWhitespace(s);        //                   text.strip()
        return PythonLower(s);
    }

    private static string ReplaceLoneSurrogates(string s)
    {
        int i = 0;
        for (; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                i++;
            else if (char.IsSurrogate(c))
                break;
        }
        if (i >= s.Length)
            return s;
        var sb = new StringBuilder(s.Length);
        sb.Append(s, 0, i);
        for (; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                sb.Append(c).Append(s[i + 1]);
                i++;
            }
            else
                sb.Append(char.IsSurrogate(c) ? '\uFFFD' : c);
        }
        return sb.ToString();
    }

    private static string ToNfc(string s)
    {
        try
        {
            return s.IsNormalized(NormalizationForm.FormC) ? s : s.Normalize(NormalizationForm.FormC);
        }
        catch (Exception e) when (e is ArgumentException or PlatformNotSupportedException)
        {
            // Globalization-invariant mode may refuse non-ASCII normalization; tokenizing un-normalized text beats failing.
            return s;
        }
    }

    /// <summary>Python <c>str.isspace()</c> (used by <c>str.strip()</c>): Unicode White_Space plus U+001C..U+001F.</summary>
    private static bool IsPythonSpace(char c) => IsRegexSpace(c) || (c >= '\u001C' && c <= '\u001F');

    /// <summary><c>\s</c> of Python's regex module (used by whitespace_clean and the pre-tokenizer) = Unicode White_Space.</summary>
    internal static bool IsRegexSpace(char c) => c switch
    {
        >= '\t' and <= '\r' => true,
        ' ' or '\u0085' or '\u00A0' or '\u1680' or '\u2028' or '\u2029' or '\u202F' or '\u205F' or '\u3000' => true,
        >= '\u2000' and <= '\u200A' => true,
        _ => false,
    };

    private static string StripPythonWhitespace(string s)
    {
        int start = 0, end = s.Length;
        while (start < end && IsPythonSpace(s[start]))
            start++;
        while (end > start && IsPythonSpace(s[end - 1]))
            end--;
        return start == 0 && end == s.Length ? s : s.Substring(start, end - start);
    }

    private static string CollapseWhitespace(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length;)
        {
            if (IsRegexSpace(s[i]))
            {
                sb.Append(' ');
                while (i < s.Length && IsRegexSpace(s[i]))
                    i++;
            }
            else
                sb.Append(s[i++]);
        }
        return sb.ToString();
    }

    /// <summary>
    /// Python <c>str.lower()</c>: the simple lower-case mapping per code point, except U+0130 → "i\u0307" (its only
    /// unconditional multi-character mapping) and U+03A3 → final ς when it ends a word (Unicode Final_Sigma context).
    /// </summary>
    private static string PythonLower(string s)
    {
        var sb = new StringBuilder(s.Length + 8);
        for (int i = 0; i < s.Length;)
        {
            Rune.DecodeFromUtf16(s.AsSpan(i), out Rune rune, out int width);
            if (rune.Value == 0x0130)
                sb.Append("i\u0307");
            else if (rune.Value == 0x03A3)
                sb.Append(IsFinalSigma(s, i) ? '\u03C2' : '\u03C3');
            else
            {
                Rune lower = Rune.ToLowerInvariant(rune);
                if (lower.IsBmp)
                    sb.Append((char)lower.Value);
                else
                    sb.Append(lower.ToString());
            }
            i += width;
        }
        return sb.ToString();
    }

    /// <summary>CPython's handle_capital_sigma: \p{Cased}\p{Case_Ignorable}* Σ !(\p{Case_Ignorable}* \p{Cased}).</summary>
    private static bool IsFinalSigma(string s, int index)
    {
        bool final = false;
        for (int j = index; j > 0;)
        {
            if (!Rune.TryGetRuneAt(s, j - 1, out Rune r) && !(j >= 2 && Rune.TryGetRuneAt(s, j - 2, out r)))
                break;
            j -= r.Utf16SequenceLength;
            if (IsCaseIgnorable(r))
                continue;
            final = IsCased(r);
            break;
        }
        if (!final)
            return false;
        for (int j = index + 1; j < s.Length;)
        {
            Rune.DecodeFromUtf16(s.AsSpan(j), out Rune r, out int width);
            j += width;
            if (IsCaseIgnorable(r))
                continue;
            return !IsCased(r);
        }
        return true;
    }

    /// <summary>Approximation of Unicode Cased from .NET data (checked against CPython 3.11 for all code points).</summary>
    private static bool IsCased(Rune r)
    {
        int v = r.Value;
        if (v == 0x0345)
            return false;                    // CPython 3.11 does not count it as cased
        if (v is 0xAA or 0xBA || (v >= 0x1F130 && v <= 0x1F149) || (v >= 0x1F150 && v <= 0x1F169) || (v >= 0x1F170 && v <= 0x1F189))
            return true;                     // Other_Lowercase / Other_Uppercase without a case mapping
        var category = Rune.GetUnicodeCategory(r);
        return category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            || Rune.ToLowerInvariant(r) != r || Rune.ToUpperInvariant(r) != r;
    }

    /// <summary>Unicode Case_Ignorable: Mn, Me, Cf, Lm, Sk, and Word_Break MidLetter / MidNumLet / Single_Quote.</summary>
    private static bool IsCaseIgnorable(Rune r)
    {
        switch (r.Value)
        {
            case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018: case 0x2019:
            case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
                return true;
        }
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;
    }
}
