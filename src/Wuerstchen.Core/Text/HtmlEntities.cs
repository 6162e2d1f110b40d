using System.Net;
using System.Globalization;
using System.Text;

namespace Wuerstchen.Core.Text;

/// <summary>Python's <c>html.unescape</c> (HTML 4 names and numeric character references; see <see cref="HtmlUnescape"/> for where it differs).</summary>
internal static class HtmlEntities
{

    /// <summary>
    /// Python 3 <c>html.unescape</c>: the same reference grammar
    /// <c>&amp;(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f &lt;&amp;#;]{1,32};?)</c>, numeric references with the HTML5 rules
    /// (0x80–0x9F as windows-1252, 0 / surrogates / &gt; U+10FFFF → U+FFFD, other invalid code points removed, semicolon optional),
    /// the 106 legacy names that need no semicolon (with Python's longest-prefix rule, e.g. "&amp;notit;" → "¬it;"), and
    /// named references with a semicolon resolved through <see cref="WebUtility.HtmlDecode(string)"/>.
    /// Difference: WebUtility knows only the 253 HTML 4 names, so the other ~1870 HTML5-only names (e.g. "&amp;NewLine;",
    /// "&amp;lpar;", "&amp;check;") stay undecoded here while Python decodes them; "&amp;lang;"/"&amp;rang;" are corrected to
    /// HTML5's U+27E8/U+27E9 (HTML 4 / WebUtility: U+2329/U+232A).
    /// </summary>
    internal static string HtmlUnescape(string s)
    {
        int amp = s.IndexOf('&');
        if (amp < 0)
            return s;
        var sb = new StringBuilder(s.Length);
        int i = 0;
        while (amp >= 0)
        {
            sb.Append(s, i, amp - i);
            if (TryReplaceCharref(s, amp, sb, out int end))
                i = end;
            else
            {
                sb.Append('&');
                i = amp + 1;
            }
            amp = i < s.Length ? s.IndexOf('&', i) : -1;
        }
        sb.Append(s, i, s.Length - i);
        return sb.ToString();
    }

    /// <summary>
    /// One character reference at <paramref name="amp"/>, in the order of Python's html._replace_charref (numeric, then
    /// named with the longest-prefix rule); kept as one function (~70 lines) so it reads against the Python original.
    /// </summary>
    private static bool TryReplaceCharref(string s, int amp, StringBuilder sb, out int end)
    {
        int p = amp + 1;
        end = p;
        if (p >= s.Length)
            return false;
        if (s[p] == '#')
        {
            bool hex = p + 1 < s.Length && s[p + 1] is 'x' or 'X';
            int q = p + 1;
            // Alternative 1 (#[0-9]+) is tried before alternative 2 (#[xX][0-9a-fA-F]+).
            while (q < s.Length && char.IsAsciiDigit(s[q]))
                q++;
            if (q > p + 1)
                hex = false;
            else if (hex)
            {
                q = p + 2;
                while (q < s.Length && char.IsAsciiHexDigit(s[q]))
                    q++;
                if (q == p + 2)
                    return false;
            }
            else
                return false;
            int digitsStart = hex ? p + 2 : p + 1;
            long value = 0;
            for (int k = digitsStart; k < q && value <= 0x10FFFF; k++)
                value = value * (hex ? 16 : 10) + (hex ? HexValue(s[k]) : s[k] - '0');
            if (q < s.Length && s[q] == ';')
                q++;
            end = q;
            sb.Append(NumericCharref(value));
            return true;
        }

        // [^\t\n\f <&#;]{1,32};?  — 32 code points, not UTF-16 units
        int r = p, codePoints = 0;
        while (r < s.Length && codePoints < 32)
        {
            char c = s[r];
            if (c is '\t' or '\n' or '\f' or ' ' or '<' or '&' or '#' or ';')
                break;
            r += char.IsHighSurrogate(c) && r + 1 < s.Length && char.IsLowSurrogate(s[r + 1]) ? 2 : 1;
            codePoints++;
        }
        if (r == p)
            return false;
        if (r < s.Length && s[r] == ';')
            r++;
        end = r;
        string name = s.Substring(p, r - p);
        string? value1 = LookupEntity(name);
        if (value1 is not null)
        {
            sb.Append(value1);
            return true;
        }
        // Longest prefix (at least 2 characters) that is a legacy name without semicolon.
        for (int x = name.Length - 1; x > 1; x--)
        {
            if (LegacyEntities.TryGetValue(name.Substring(0, x), out char legacy))
            {
                sb.Append(legacy).Append(name, x, name.Length - x);
                return true;
            }
        }
        sb.Append('&').Append(name);
        return true;
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static string NumericCharref(long num)
    {
        if (num == 0)
            return "\uFFFD";
        if (num == 0x0D)
            return "\r";
        if (num >= 0x80 && num <= 0x9F)
            return Windows1252[(int)num - 0x80].ToString();
        if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
            return "\uFFFD";
        if ((num >= 0x01 && num <= 0x08) || num == 0x0B || (num >= 0x0E && num <= 0x1F) || num == 0x7F
            || (num >= 0xFDD0 && num <= 0xFDEF) || (num & 0xFFFE) == 0xFFFE)
            return string.Empty;
        return char.ConvertFromUtf32((int)num);
    }

    /// <summary>Python's html._invalid_charrefs for 0x80..0x9F (windows-1252; undefined slots stay C1 controls).</summary>
    private const string Windows1252 =
        "\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F" +
        "\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178";

    /// <summary>Value of a name as Python's html5 table has it (name with or without ';'), or null.</summary>
    private static string? LookupEntity(string name)
    {
        if (!name.EndsWith(';'))
            return LegacyEntities.TryGetValue(name, out char c) ? c.ToString() : null;
        string stem = name.Substring(0, name.Length - 1);
        if (LegacyEntities.TryGetValue(stem, out char legacy))
            return legacy.ToString();        // also covers the HTML5 upper-case aliases AMP; COPY; GT; LT; QUOT; REG;
        if (stem == "lang")
            return "\u27E8";
        if (stem == "rang")
            return "\u27E9";
        string reference = "&" + name;
        string decoded = WebUtility.HtmlDecode(reference);
        return decoded == reference ? null : decoded;
    }

    /// <summary>The names that Python's html5 table holds without a trailing semicolon (all map to one character).</summary>
    private static readonly Dictionary<string, char> LegacyEntities = new(StringComparer.Ordinal)
    {
        ["AElig"] = '\u00C6', ["AMP"] = '&', ["Aacute"] = '\u00C1', ["Acirc"] = '\u00C2',
        ["Agrave"] = '\u00C0', ["Aring"] = '\u00C5', ["Atilde"] = '\u00C3', ["Auml"] = '\u00C4',
        ["COPY"] = '\u00A9', ["Ccedil"] = '\u00C7', ["ETH"] = '\u00D0', ["Eacute"] = '\u00C9',
        ["Ecirc"] = '\u00CA', ["Egrave"] = '\u00C8', ["Euml"] = '\u00CB', ["GT"] = '>',
        ["Iacute"] = '\u00CD', ["Icirc"] = '\u00CE', ["Igrave"] = '\u00CC', ["Iuml"] = '\u00CF',
        ["LT"] = '<', ["Ntilde"] = '\u00D1', ["Oacute"] = '\u00D3', ["Ocirc"] = '\u00D4',
        ["Ograve"] = '\u00D2', ["Oslash"] = '\u00D8', ["Otilde"] = '\u00D5', ["Ouml"] = '\u00D6',
        ["QUOT"] = '\u0022', ["REG"] = '\u00AE', ["THORN"] = '\u00DE', ["Uacute"] = '\u00DA',
        ["Ucirc"] = '\u00DB', ["Ugrave"] = '\u00D9', ["Uuml"] = '\u00DC', ["Yacute"] = '\u00DD',
        ["aacute"] = '\u00E1', ["acirc"] = '\u00E2', ["acute"] = '\u00B4', ["aelig"] = '\u00E6',
        ["agrave"] = '\u00E0', ["amp"] = '&', ["aring"] = '\u00E5', ["atilde"] = '\u00E3',
        ["auml"] = '\u00E4', ["brvbar"] = '\u00A6', ["ccedil"] = '\u00E7', ["cedil"] = '\u00B8',
        ["cent"] = '\u00A2', ["copy"] = '\u00A9', ["curren"] = '\u00A4', ["deg"] = '\u00B0',
        ["divide"] = '\u00F7', ["eacute"] = '\u00E9', ["ecirc"] = '\u00EA', ["egrave"] = '\u00E8',
        ["eth"] = '\u00F0', ["euml"] = '\u00EB', ["frac12"] = '\u00BD', ["frac14"] = '\u00BC',
        ["frac34"] = '\u00BE', ["gt"] = '>', ["iacute"] = '\u00ED', ["icirc"] = '\u00EE',
        ["iexcl"] = '\u00A1', ["igrave"] = '\u00EC', ["iquest"] = '\u00BF', ["iuml"] = '\u00EF',
        ["laquo"] = '\u00AB', ["lt"] = '<', ["macr"] = '\u00AF', ["micro"] = '\u00B5', ["middot"] = '\u00B7',
        ["nbsp"] = '\u00A0', ["not"] = '\u00AC', ["ntilde"] = '\u00F1', ["oacute"] = '\u00F3',
        ["ocirc"] = '\u00F4', ["ograve"] = '\u00F2', ["ordf"] = '\u00AA', ["ordm"] = '\u00BA',
        ["oslash"] = '\u00F8', ["otilde"] = '\u00F5', ["ouml"] = '\u00F6', ["para"] = '\u00B6',
        ["plusmn"] = '\u00B1', ["pound"] = '\u00A3', ["quot"] = '\u0022', ["raquo"] = '\u00BB',
        ["reg"] = '\u00AE', ["sect"] = '\u00A7', ["shy"] = '\u00AD', ["sup1"] = '\u00B9',
        ["sup2"] = '\u00B2', ["sup3"] = '\u00B3', ["szlig"] = '\u00DF', ["thorn"] = '\u00FE',
        ["times"] = '\u00D7', ["uacute"] = '\u00FA', ["ucirc"] = '\u00FB', ["ugrave"] = '\u00F9',
        ["uml"] = '\u00A8', ["uuml"] = '\u00FC', ["yacute"] = '\u00FD', ["yen"] = '\u00A5',
        ["yuml"] = '\u00FF',
    };
}
