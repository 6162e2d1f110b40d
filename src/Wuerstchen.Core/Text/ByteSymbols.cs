using System.Globalization;
using System.Text;

namespace Wuerstchen.Core.Text;

/// <summary>GPT-2 / CLIP <c>bytes_to_unicode()</c>: the symbol of each byte, and back.</summary>
internal static class ByteSymbols
{

    /// <summary>GPT-2 / CLIP <c>bytes_to_unicode()</c>: printable Latin-1 bytes map to themselves, the others to U+0100 + n.</summary>
    internal static readonly char[] ByteToUnicode = BuildByteToUnicode();

    /// <summary>Inverse of <see cref="ByteToUnicode"/>, indexed by char (-1 = not a byte symbol).</summary>
    internal static readonly int[] UnicodeToByte = BuildUnicodeToByte();

    private static char[] BuildByteToUnicode()
    {
        var map = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + n++);
        }
        return map;
    }

    private static int[] BuildUnicodeToByte()
    {
        var inverse = new int[512];
        Array.Fill(inverse, -1);
        for (int b = 0; b < 256; b++)
            inverse[ByteToUnicode[b]] = b;
        return inverse;
    }
}
