using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using Wuerstchen.Core.IO;
using Wuerstchen.Core.Preprocessing;
using Xunit;

namespace Wuerstchen.Core.Tests.Preprocessing;

/// <summary>
/// The fixtures data/clip-image/make_fixtures.py made with Pillow and numpy (see its docstring): PIL's resize outputs,
/// and transformers' CLIPImageProcessor steps on a few image files, as hashes and small PNGs.
/// </summary>
internal static class ClipFixtures
{
    public static string Dir => Path.Combine(TestPaths.DataDir, "clip-image");

    public static string PathOf(string file) => Path.Combine(Dir, file);

    private static readonly Lazy<JsonElement> ResizeJson = new(() => Read("resize.json"));
    private static readonly Lazy<JsonElement> ProcessorJson = new(() => Read("processor.json"));

    public static IEnumerable<JsonElement> ResizeCases => ResizeJson.Value.GetProperty("cases").EnumerateArray();

    public static IEnumerable<JsonElement> ProcessorCases => ProcessorJson.Value.GetProperty("cases").EnumerateArray();

    public static JsonElement ResizeCase(string name) => ResizeCases.Single(c => c.GetProperty("name").GetString() == name);

    public static JsonElement ProcessorCase(string name) => ProcessorCases.Single(c => c.GetProperty("name").GetString() == name);

    public static TheoryData<string> Names(IEnumerable<JsonElement> cases, Func<JsonElement, bool>? where = null)
    {
        var data = new TheoryData<string>();
        foreach (var c in cases.Where(c => where?.Invoke(c) ?? true))
        {
            data.Add(c.GetProperty("name").GetString()!);
        }

        return data;
    }

    /// <summary>The settings of a processor case: its JSON over transformers' defaults, read as the module reads them.</summary>
    public static ClipImageSettings Settings(JsonElement processorCase) => ClipImageSettings.FromJson(processorCase.GetProperty("settings"));

    /// <summary>
    /// The noise make_fixtures.py's noise() makes: byte i (HWC order) is the top byte of splitmix64 at state
    /// seed·φ + (i + 1)·φ, with φ = 0x9E3779B97F4A7C15 — computed here too, so the sources need not be stored.
    /// </summary>
    public static byte[] Noise(int width, int height, int seed)
    {
        const ulong Golden = 0x9E3779B97F4A7C15;
        var bytes = new byte[width * height * 3];
        for (int i = 0; i < bytes.Length; i++)
        {
            ulong z = unchecked((ulong)seed * Golden + (ulong)(i + 1) * Golden);
            z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9);
            z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EB);
            bytes[i] = (byte)((z ^ (z >> 31)) >> 56);
        }

        return bytes;
    }

    /// <summary>Settings that only resize (no crop, no rescale, no normalise), so the pixel values are PIL's resized bytes.</summary>
    public static ClipImageSettings ResizeOnly(int width, int height, int filter) =>
        ClipImageSettings.Default with
        {
            ShortestEdge = null, ResizeHeight = height, ResizeWidth = width, Resample = filter,
            DoCenterCrop = false, DoRescale = false, DoNormalize = false,
        };

    /// <summary>Channels-first float values of bytes (no rescale, no normalise) back to HWC bytes.</summary>
    public static byte[] ToHwcBytes(float[] chw, int height, int width)
    {
        int plane = height * width;
        var bytes = new byte[3 * plane];
        for (int i = 0; i < plane; i++)
        {
            for (int ch = 0; ch < 3; ch++)
            {
                float v = chw[ch * plane + i];
                Assert.True(v is >= 0 and <= 255 && v == MathF.Floor(v), $"value {v} is not a byte");
                bytes[3 * i + ch] = (byte)v;
            }
        }

        return bytes;
    }

    /// <summary>An image file's RGB bytes as the module decodes it (bounded loader, EXIF orientation applied).</summary>
    public static (byte[] Rgb, int Width, int Height) Decode(string path)
    {
        using var image = ImageLoader.LoadOriented(path);
        var rgb = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(rgb);
        return (rgb, image.Width, image.Height);
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    /// <summary>The sha256 of float32 values as numpy's tobytes() writes them on a little-endian machine.</summary>
    public static string Sha256(float[] values)
    {
        Assert.True(BitConverter.IsLittleEndian);
        return Sha256(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    /// <summary>How many bytes differ, and the first difference, for a readable failure.</summary>
    public static string Differences(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, int width)
    {
        int count = 0, first = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] != actual[i])
            {
                count++;
                first = first < 0 ? i : first;
            }
        }

        return count == 0 ? "identical"
            : $"{count} of {expected.Length} bytes differ; first at pixel ({first / 3 % width}, {first / 3 / width}) channel {first % 3}: expected {expected[first]}, got {actual[first]}";
    }

    private static JsonElement Read(string file) => JsonDocument.Parse(File.ReadAllText(PathOf(file))).RootElement.Clone();
}
