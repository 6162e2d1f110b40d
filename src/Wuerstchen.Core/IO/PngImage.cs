using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Wuerstchen.Core.IO;

/// <summary>PNG output with the generation parameters as text chunks.</summary>
public static class PngImage
{
    /// <summary>Writes 8-bit RGB. BestSpeed compression by default: the default level costs ~400 ms at 1024², which rivals GPU sampling.</summary>
    public static void Write(Stream stream, byte[] rgb, int width, int height, IEnumerable<KeyValuePair<string, string>> text,
        PngCompressionLevel compression = PngCompressionLevel.BestSpeed)
    {
        using var image = Image.LoadPixelData<Rgb24>(rgb, width, height);
        var png = image.Metadata.GetPngMetadata();
        foreach (var (key, value) in text)
        {
            // an iTXt chunk (UTF-8) when the value is not Latin-1, so prompts keep every character
            bool latin1 = value.All(c => c <= '\u00ff');
            png.TextData.Add(new PngTextData(key, value, latin1 ? "" : "en", ""));
        }

        image.SaveAsPng(stream, new PngEncoder
        {
            ColorType = PngColorType.Rgb,
            BitDepth = PngBitDepth.Bit8,
            CompressionLevel = compression,
            TextCompressionThreshold = int.MaxValue,
        });
    }

    /// <summary>Reads an image file's pixels as 8-bit RGB (row-major, 3 bytes a pixel).</summary>
    public static byte[] ReadRgb(string path, out int width, out int height)
    {
        using var image = Image.Load<Rgb24>(path);
        width = image.Width;
        height = image.Height;
        var rgb = new byte[width * height * 3];
        image.CopyPixelDataTo(rgb);
        return rgb;
    }

    /// <summary>Reads the text chunks of a PNG (for tests and for users inspecting outputs), each bounded (<see cref="PngText"/>).</summary>
    public static IReadOnlyDictionary<string, string> ReadText(string path) => PngText.Read(path);
}
