using Wuerstchen.Core.IO;
using Wuerstchen.Core.IO.Jpeg;
using Xunit;

namespace Wuerstchen.Core.Tests.Jpeg;

/// <summary>
/// The decoder against Pillow on the committed fixtures (data/jpeg/make_fixtures.py: Pillow's and cjpeg's encoders,
/// baseline/progressive, every chroma sampling libjpeg upsamples differently, restarts, odd sizes, incomplete
/// progressions that libjpeg smooths, damaged data), and its refusals, errors and bounds.
/// </summary>
public class JpegDecoderTests
{
    public static TheoryData<string> DecodableFiles => JpegTestData.Files(refused: false);

    public static TheoryData<string> RefusedFiles => JpegTestData.Files(refused: true);

    [Theory]
    [MemberData(nameof(DecodableFiles))]
    public void Decodes_to_exactly_the_RGB_bytes_Pillow_decodes(string file)
    {
        var c = JpegTestData.Case(file);
        var image = JpegDecoder.Decode(JpegTestData.Read(file), ImageLoader.MaxPixels);
        Assert.Equal((c.GetProperty("width").GetInt32(), c.GetProperty("height").GetInt32()), (image.Width, image.Height));
        Assert.Equal(c.GetProperty("sha256").GetString(), JpegTestData.Sha256(image.Rgb));
    }

    [Theory]
    [MemberData(nameof(RefusedFiles))]
    public void Kinds_it_does_not_reproduce_are_refused_as_unsupported_with_the_reason(string file)
    {
        var ex = Assert.Throws<JpegDecodeException>(() => JpegDecoder.Decode(JpegTestData.Read(file), ImageLoader.MaxPixels));
        Assert.True(ex.Unsupported, ex.Message);
        Assert.Contains(JpegTestData.Case(file).GetProperty("refused").GetString()!, ex.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "no start-of-image marker", "start-of-image" },
        { "undefined quantization table", "quantization table 3" },
        { "Huffman table index 5", "index 5" },
        { "progressive Al 14", "invalid parameters" },
        { "scan before the frame header", "before the frame" },
        { "cut inside a table segment", "ends in the middle" },
        { "unknown marker", "unknown marker" },
        { "MCU of 18 blocks", "18 blocks" },
    };

    /// <summary>Where libjpeg-turbo stops with an error, the decoder throws a (not "unsupported") JpegDecodeException.</summary>
    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_files_are_invalid_where_libjpeg_fails(string damage, string message)
    {
        var ex = Assert.Throws<JpegDecodeException>(() => JpegDecoder.Decode(Damaged(damage), ImageLoader.MaxPixels));
        Assert.False(ex.Unsupported, ex.Message);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_frame_over_the_pixel_bound_is_refused_before_anything_is_allocated()
    {
        var ex = Assert.Throws<JpegDecodeException>(() => JpegDecoder.Decode(JpegTestData.Read("pil-q75-420-64x48.jpg"), 64 * 48 - 1));
        Assert.False(ex.Unsupported);
        Assert.Contains("64×48", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A progressive file may repeat scans (libjpeg only warns). Repeating the DC refinement scan changes nothing (it
    /// ORs the same bits in again): the pixels stay Pillow's up to 1,000 scans, and past them the file is refused.
    /// </summary>
    [Fact]
    public void Repeated_scans_are_decoded_up_to_the_scan_bound_and_refused_beyond_it()
    {
        const string File = "pil-q75-422-progressive-optimize-65x31.jpg";
        var data = JpegTestData.Read(File);
        int scans = Offsets(data, 0xDA).Count;
        Assert.Equal(JpegTestData.Case(File).GetProperty("sha256").GetString(),
            JpegTestData.Sha256(JpegDecoder.Decode(RepeatDcRefinement(data, JpegDecoder.MaxScans - scans), ImageLoader.MaxPixels).Rgb));
        var ex = Assert.Throws<JpegDecodeException>(() => JpegDecoder.Decode(RepeatDcRefinement(data, JpegDecoder.MaxScans - scans + 1), ImageLoader.MaxPixels));
        Assert.False(ex.Unsupported);
        Assert.Contains("more than 1000 scans", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cancellation_is_honoured()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        foreach (var file in new[] { "pil-q75-420-64x48.jpg", "pil-q90-420-progressive-257x193.jpg" })
        {
            Assert.ThrowsAny<OperationCanceledException>(() => JpegDecoder.Decode(JpegTestData.Read(file), ImageLoader.MaxPixels, cts.Token));
        }
    }

    /// <summary>A copy of a fixture with one kind of damage.</summary>
    private static byte[] Damaged(string damage)
    {
        var baseline = JpegTestData.Read("pil-q75-420-64x48.jpg");
        var progressive = JpegTestData.Read("pil-q90-420-progressive-257x193.jpg");
        var data = (byte[])(damage.StartsWith("progressive", StringComparison.Ordinal) ? progressive : baseline).Clone();
        int sof = Offsets(data, 0xC0).Concat(Offsets(data, 0xC2)).First();
        switch (damage)
        {
            case "no start-of-image marker":
                data[1] = 0xD7;
                return data;
            case "undefined quantization table":
                data[sof + 12] = 3; // component 0's Tq
                return data;
            case "Huffman table index 5":
                data[Offsets(data, 0xC4)[0] + 4] = 0x05;
                return data;
            case "progressive Al 14":
                int sos = Offsets(data, 0xDA)[0];
                data[sos + 2 + data[sos + 3] - 1] = 0x0E; // Ah/Al of the first (DC) scan
                return data;
            case "scan before the frame header":
                return Cut(data, sof, 2 + (data[sof + 2] << 8 | data[sof + 3]));
            case "cut inside a table segment":
                return data[..(Offsets(data, 0xDB)[0] + 20)];
            case "unknown marker":
                data[Offsets(data, 0xDB)[0] + 1] = 0xF3; // a JPGn code in place of DQT
                return data;
            default:
                data[sof + 11] = 0x44; // component 0 sampled 4×4: 16 + 2 blocks an MCU
                return data;
        }
    }

    /// <summary>The offsets of the FF xx markers with code <paramref name="marker"/> in the segments before and between scans.</summary>
    private static List<int> Offsets(byte[] data, int marker)
    {
        var found = new List<int>();
        for (int i = 2; i + 1 < data.Length; i++)
        {
            if (data[i] == 0xFF && data[i + 1] == marker)
            {
                found.Add(i);
            }
        }

        return found;
    }

    private static byte[] Cut(byte[] data, int at, int count) => data[..at].Concat(data[(at + count)..]).ToArray();

    /// <summary>The file with its DC refinement scan (all components, Ss 0, Ah 1) repeated <paramref name="extra"/> more times.</summary>
    private static byte[] RepeatDcRefinement(byte[] data, int extra)
    {
        int sos = Offsets(data, 0xDA).First(at => data[at + 4] > 1 && data[at + 5 + 2 * data[at + 4]] == 0 && data[at + 7 + 2 * data[at + 4]] >> 4 == 1);
        int end = sos + 2;
        while (!(data[end] == 0xFF && data[end + 1] is not (0 or 0xFF) and not (>= 0xD0 and <= 0xD7)))
        {
            end++;
        }

        var output = new List<byte>(data[..end]);
        for (int i = 0; i < extra; i++)
        {
            output.AddRange(data[sos..end]);
        }

        output.AddRange(data[end..]);
        return output.ToArray();
    }
}
