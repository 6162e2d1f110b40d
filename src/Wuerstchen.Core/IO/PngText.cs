using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Wuerstchen.Core.IO;

/// <summary>
/// The text chunks (tEXt, zTXt, iTXt) of a PNG, read by walking its chunks, with each compressed text inflated only up
/// to <see cref="MaxTextBytes"/>: ImageSharp inflates them without limit (a 1 MB file whose zTXt inflates to 1 GiB took
/// 3 GB), and the module never compresses its own text. Pixels are never decoded here.
/// </summary>
public static class PngText
{
    /// <summary>Largest text one compressed chunk may inflate to (the module writes none: they are other tools').</summary>
    public const int MaxTextBytes = 1 << 20;

    /// <summary>
    /// Largest text one uncompressed chunk may hold: more than the module itself writes at most (256 prompts of
    /// <see cref="PromptText.MaxLength"/> characters as a JSON list, 6 bytes a character at worst: 15.4 MB), so every
    /// image it writes reads back. Stored text costs what its bytes in the file (already read, at most
    /// <see cref="ImageLoader.MaxFileBytes"/>) cost; only inflation multiplies, so that keeps the smaller bound.
    /// </summary>
    public const int MaxStoredTextBytes = 16 << 20;

    private static readonly byte[] Signature = { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };

    /// <summary>Keyword → text of every text chunk (a repeated keyword keeps its last text).</summary>
    /// <exception cref="InvalidDataException">Not a PNG, a chunk cut short, or a text larger than <see cref="MaxTextBytes"/>.</exception>
    public static Dictionary<string, string> Read(string path) => Read(path, BoundedFile.ReadAllBytes(path, ImageLoader.MaxFileBytes, "a PNG image"));

    /// <summary>The text chunks of <paramref name="bytes"/>, the file <paramref name="path"/> names (for messages).</summary>
    internal static Dictionary<string, string> Read(string path, byte[] bytes)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (type, offset, length) in Chunks(path, bytes))
        {
            if (type is "tEXt" or "zTXt" or "iTXt" && Text(path, type, bytes.AsSpan(offset, length)) is { } text)
            {
                result[text.Keyword] = text.Value;
            }
        }

        return result;
    }

    /// <summary>
    /// The raw EXIF of an eXIf chunk, or null. The image decoder skips a PNG's metadata (for its text chunks), so the
    /// EXIF orientation of a PNG photo is taken from here; it is never compressed, so it is bounded by the file.
    /// </summary>
    internal static byte[]? Exif(string path, byte[] bytes)
    {
        foreach (var (type, offset, length) in Chunks(path, bytes))
        {
            if (type == "eXIf")
            {
                return bytes.AsSpan(offset, length).ToArray();
            }
        }

        return null;
    }

    /// <summary>Each chunk's type and data (offset, length) up to IEND; a chunk cut short is an InvalidDataException.</summary>
    private static IEnumerable<(string Type, int Offset, int Length)> Chunks(string path, byte[] bytes)
    {
        if (bytes.Length < Signature.Length || !bytes.AsSpan(0, Signature.Length).SequenceEqual(Signature))
        {
            throw new InvalidDataException($"'{path}' is not a PNG image (its signature is missing).");
        }

        int pos = Signature.Length;
        while (pos + 8 <= bytes.Length)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(pos));
            var type = Encoding.ASCII.GetString(bytes, pos + 4, 4);
            if (length > bytes.Length - pos - 12L)
            {
                throw new InvalidDataException($"'{path}' is cut short inside its '{TextExcerpt.Of(type)}' chunk.");
            }

            yield return (type, pos + 8, (int)length);
            if (type == "IEND")
            {
                yield break;
            }

            pos += 12 + (int)length;
        }
    }

    /// <summary>One text chunk; null when it is malformed (ignored, as a PNG reader does with a broken ancillary chunk).</summary>
    private static (string Keyword, string Value)? Text(string path, string type, ReadOnlySpan<byte> data)
    {
        int nul = data.IndexOf((byte)0);
        if (nul < 1)
        {
            return null;
        }

        var keyword = Encoding.Latin1.GetString(data[..nul]);
        var rest = data[(nul + 1)..];
        switch (type)
        {
            case "tEXt":
                return (keyword, Encoding.Latin1.GetString(Capped(path, keyword, rest)));
            case "zTXt":
                return rest.Length < 1 ? null : (keyword, Encoding.Latin1.GetString(Inflate(path, keyword, rest[1..])));
            default: // iTXt: compression flag, method, language tag\0, translated keyword\0, UTF-8 text
                if (rest.Length < 2)
                {
                    return null;
                }

                bool compressed = rest[0] == 1;
                var tail = rest[2..];
                for (int skip = 0; skip < 2; skip++)
                {
                    int end = tail.IndexOf((byte)0);
                    if (end < 0)
                    {
                        return null;
                    }

                    tail = tail[(end + 1)..];
                }

                return (keyword, compressed ? Encoding.UTF8.GetString(Inflate(path, keyword, tail)) : Encoding.UTF8.GetString(Capped(path, keyword, tail)));
        }
    }

    private static ReadOnlySpan<byte> Capped(string path, string keyword, ReadOnlySpan<byte> text) =>
        text.Length <= MaxStoredTextBytes ? text : throw TooLong(path, keyword, MaxStoredTextBytes);

    /// <summary>Inflates a zlib stream, stopping as soon as it passes <see cref="MaxTextBytes"/>.</summary>
    private static byte[] Inflate(string path, string keyword, ReadOnlySpan<byte> compressed)
    {
        using var input = new MemoryStream(compressed.ToArray());
        using var z = new ZLibStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        var buffer = new byte[1 << 14];
        while (true)
        {
            int n;
            try
            {
                n = z.Read(buffer);
            }
            catch (InvalidDataException ex)
            {
                throw new InvalidDataException($"'{path}': the text chunk '{TextExcerpt.Of(keyword)}' is not valid zlib data ({ex.Message}).", ex);
            }

            if (n == 0)
            {
                break;
            }

            if (output.Length + n > MaxTextBytes)
            {
                throw TooLong(path, keyword, MaxTextBytes);
            }

            output.Write(buffer, 0, n);
        }

        return output.ToArray();
    }

    private static InvalidDataException TooLong(string path, string keyword, int bound) =>
        new($"'{path}': the text chunk '{TextExcerpt.Of(keyword)}' holds more than {BoundedFile.Size(bound)} of text; it is not read (the module's parameters are a few KB, at most {BoundedFile.Size(MaxStoredTextBytes)} uncompressed).");
}
