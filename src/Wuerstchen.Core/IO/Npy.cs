using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Wuerstchen.Core.IO;

/// <summary>A numpy array read from or written to a .npy file.</summary>
public sealed record NpyArray(string Descr, int[] Shape, float[]? Floats, byte[]? Bytes);

/// <summary>A checked .npy header: the dtype, the shape (C order) and the data's size it promises.</summary>
public sealed record NpyHeader(string Descr, int[] Shape, int ItemSize, long Count)
{
    public long DataBytes => Count * ItemSize;

    /// <summary>numpy's way of writing the shape: "(1, 16, 24, 24)".</summary>
    public string ShapeText => "(" + string.Join(", ", Shape) + ")";
}

/// <summary>
/// Minimal, defensive .npy (format 1.0–3.0) reader and float32 writer. The header is validated and the
/// payload size checked against the file before anything large is allocated; malformed input raises
/// InvalidDataException, never anything else.
/// </summary>
public static partial class Npy
{
    private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    /// <summary>Largest header accepted (numpy itself writes a few hundred bytes).</summary>
    public const int MaxHeaderLength = 1 << 16;

    /// <summary>Largest array accepted, in elements (1 GiB of float32).</summary>
    public const long MaxElements = 1L << 28;

    public static void WriteFloat32(Stream stream, ReadOnlySpan<float> data, IReadOnlyList<int> shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            count *= d;
        }

        if (count != data.Length)
        {
            throw new ArgumentException($"shape [{string.Join(",", shape)}] holds {count} values; data has {data.Length}.");
        }

        var shapeText = shape.Count == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape.Select(s => s.ToString(CultureInfo.InvariantCulture))) + ")";
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shapeText}, }}";
        int total = Magic.Length + 4 + header.Length + 1;
        int pad = (64 - total % 64) % 64;
        header = header + new string(' ', pad) + "\n";
        stream.Write(Magic);
        stream.WriteByte(1);
        stream.WriteByte(0);
        Span<byte> len = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
        stream.Write(len);
        stream.Write(Encoding.ASCII.GetBytes(header));
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        }
        else
        {
            var buf = new byte[4];
            foreach (var v in data)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buf, v);
                stream.Write(buf);
            }
        }
    }

    /// <summary>Largest .npy file read: the largest header and array accepted, in float64.</summary>
    public const long MaxFileBytes = 12 + MaxHeaderLength + MaxElements * 8;

    public static NpyArray Read(string path)
    {
        using var stream = BoundedFile.OpenRead(path, MaxFileBytes, "an .npy file", out _);
        return Read(stream);
    }

    /// <summary>Reads float32/float16/float64 (as float) or uint8 arrays, C order.</summary>
    public static NpyArray Read(Stream stream)
    {
        var header = ReadHeader(stream);
        if (header.ItemSize == 1)
        {
            var raw = new byte[header.DataBytes];
            ReadExactly(stream, raw, "the data");
            return new NpyArray(header.Descr, header.Shape, null, raw);
        }

        var floats = new float[header.Count];
        ReadFloats(stream, header, floats);
        return new NpyArray(header.Descr, header.Shape, floats, null);
    }

    /// <summary>
    /// Reads and checks the header: format, dtype, C order, at most <see cref="MaxElements"/> values and — on a
    /// seekable stream — exactly shape × item size bytes of data after it. Nothing the size of the data is allocated,
    /// so a caller can check the shape before reading (<see cref="ReadFloats"/>).
    /// </summary>
    public static NpyHeader ReadHeader(Stream stream)
    {
        var (descr, fortran, shape) = ParseHeader(ReadHeaderText(stream));
        if (fortran)
        {
            throw new InvalidDataException("Fortran-ordered .npy arrays are not supported; save with numpy.ascontiguousarray.");
        }

        long count = 1;
        foreach (var d in shape)
        {
            count *= d;
            if (count > MaxElements)
            {
                throw new InvalidDataException($"the array shape ({string.Join(", ", shape)}) has more than {MaxElements} elements.");
            }
        }

        int itemSize = descr[1..] switch
        {
            "f4" => 4,
            "f2" => 2,
            "f8" => 8,
            "u1" or "b1" => 1,
            _ => throw new InvalidDataException($"unsupported dtype '{TextExcerpt.Of(descr)}'; float32, float16, float64 or uint8 are read."),
        };
        var header = new NpyHeader(descr, shape, itemSize, count);
        if (stream.CanSeek)
        {
            long remain = stream.Length - stream.Position;
            if (remain < header.DataBytes)
            {
                throw new InvalidDataException($"the file is truncated: the header promises {header.DataBytes} bytes of data but {remain} remain.");
            }

            if (remain > header.DataBytes)
            {
                throw new InvalidDataException(
                    $"the file has {remain} bytes of data after its header, but shape {header.ShapeText} of '{descr}' is {header.DataBytes} bytes; the header does not describe the data.");
            }
        }

        return header;
    }

    /// <summary>
    /// Reads the next <paramref name="destination"/>.Length values of a float array as float32, converting 64 KiB at a
    /// time (a float64 file never needs a buffer of its whole size).
    /// </summary>
    public static void ReadFloats(Stream stream, NpyHeader header, Span<float> destination)
    {
        int itemSize = header.ItemSize;
        if (itemSize == 1)
        {
            throw new InvalidOperationException($"'{header.Descr}' is not a float dtype.");
        }

        bool bigEndian = header.Descr[0] == '>';
        var chunk = new byte[(1 << 16) / itemSize * itemSize];
        int done = 0;
        while (done < destination.Length)
        {
            int values = Math.Min(chunk.Length / itemSize, destination.Length - done);
            ReadExactly(stream, chunk.AsSpan(0, values * itemSize), "the data");
            for (int i = 0; i < values; i++)
            {
                var s = chunk.AsSpan(i * itemSize, itemSize);
                destination[done + i] = itemSize switch
                {
                    4 => bigEndian ? BinaryPrimitives.ReadSingleBigEndian(s) : BinaryPrimitives.ReadSingleLittleEndian(s),
                    2 => (float)(bigEndian ? BinaryPrimitives.ReadHalfBigEndian(s) : BinaryPrimitives.ReadHalfLittleEndian(s)),
                    _ => (float)(bigEndian ? BinaryPrimitives.ReadDoubleBigEndian(s) : BinaryPrimitives.ReadDoubleLittleEndian(s)),
                };
            }

            done += values;
        }
    }

    /// <summary>The magic string, the version and the header text (Latin-1; UTF-8 from version 3).</summary>
    private static string ReadHeaderText(Stream stream)
    {
        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(stream, prefix, "the magic string");
        if (!prefix[..6].SequenceEqual(Magic))
        {
            throw new InvalidDataException("not a .npy file (the magic string \\x93NUMPY is missing).");
        }

        int major = prefix[6];
        int headerLength;
        if (major == 1)
        {
            Span<byte> l = stackalloc byte[2];
            ReadExactly(stream, l, "the header length");
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(l);
        }
        else if (major is 2 or 3)
        {
            Span<byte> l = stackalloc byte[4];
            ReadExactly(stream, l, "the header length");
            uint ul = BinaryPrimitives.ReadUInt32LittleEndian(l);
            if (ul > MaxHeaderLength)
            {
                throw new InvalidDataException($"the .npy header claims {ul} bytes; at most {MaxHeaderLength} are accepted.");
            }

            headerLength = (int)ul;
        }
        else
        {
            throw new InvalidDataException($"unsupported .npy format version {major}.{prefix[7]}.");
        }

        if (headerLength > MaxHeaderLength)
        {
            throw new InvalidDataException($"the .npy header claims {headerLength} bytes; at most {MaxHeaderLength} are accepted.");
        }

        var headerBytes = new byte[headerLength];
        ReadExactly(stream, headerBytes, "the header");
        return (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
    }

    private static (string Descr, bool Fortran, int[] Shape) ParseHeader(string header)
    {
        var descr = DescrRegex().Match(header);
        var fortran = FortranRegex().Match(header);
        var shape = ShapeRegex().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
        {
            throw new InvalidDataException("the .npy header is malformed (descr, fortran_order and shape are required).");
        }

        var d = descr.Groups[1].Value;
        if (d.Length < 3 || (d[0] != '<' && d[0] != '>' && d[0] != '|' && d[0] != '='))
        {
            throw new InvalidDataException($"unsupported dtype '{TextExcerpt.Of(d)}'.");
        }

        if (d[0] == '=')
        {
            d = (BitConverter.IsLittleEndian ? "<" : ">") + d[1..];
        }

        var parts = shape.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > 8)
        {
            throw new InvalidDataException($"the .npy array has {parts.Length} dimensions; at most 8 are accepted.");
        }

        var dims = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            var p = parts[i].TrimEnd('L');
            if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out dims[i]))
            {
                throw new InvalidDataException($"the .npy shape entry '{TextExcerpt.Of(parts[i])}' is not a non-negative integer.");
            }
        }

        return (d, fortran.Groups[1].Value == "True", dims);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string what)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = stream.Read(buffer[read..]);
            if (n == 0)
            {
                throw new InvalidDataException($"the file ends inside {what} (truncated .npy).");
            }

            read += n;
        }
    }

    [GeneratedRegex(@"['""]descr['""]\s*:\s*['""]([^'""]{1,16})['""]")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"['""]fortran_order['""]\s*:\s*(True|False)")]
    private static partial Regex FortranRegex();

    [GeneratedRegex(@"['""]shape['""]\s*:\s*\(([0-9L,\s]{0,200})\)")]
    private static partial Regex ShapeRegex();
}
