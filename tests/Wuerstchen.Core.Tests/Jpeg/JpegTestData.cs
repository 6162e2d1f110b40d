using System.Security.Cryptography;
using System.Text.Json;
using Xunit;

namespace Wuerstchen.Core.Tests.Jpeg;

/// <summary>The fixtures data/jpeg/make_fixtures.py wrote: small JPEGs and, in manifest.json, what Pillow decodes from each.</summary>
internal static class JpegTestData
{
    public static string Dir => Path.Combine(TestPaths.DataDir, "jpeg");

    private static readonly Lazy<JsonElement> Manifest = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "manifest.json"))).RootElement.Clone());

    public static IEnumerable<JsonElement> Cases => Manifest.Value.GetProperty("cases").EnumerateArray();

    public static JsonElement Case(string file) => Cases.Single(c => c.GetProperty("file").GetString() == file);

    public static byte[] Read(string file) => File.ReadAllBytes(Path.Combine(Dir, file));

    public static TheoryData<string> Files(bool refused)
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Where(c => c.TryGetProperty("refused", out _) == refused))
        {
            data.Add(c.GetProperty("file").GetString()!);
        }

        return data;
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    /// <summary>How many bytes differ and where the first is, for a readable failure.</summary>
    public static string Differences(byte[] expected, byte[] actual, int width)
    {
        if (expected.Length != actual.Length)
        {
            return $"{actual.Length} bytes, expected {expected.Length}";
        }

        int count = 0, first = -1, max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] != actual[i])
            {
                count++;
                first = first < 0 ? i : first;
                max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
            }
        }

        return count == 0 ? "identical"
            : $"{count} of {expected.Length} bytes differ (up to {max}); first at pixel ({first / 3 % width}, {first / 3 / width}) channel {first % 3}: expected {expected[first]}, got {actual[first]}";
    }

    public static void AssertIdentical(byte[] expected, byte[] actual, int width) =>
        Assert.True(expected.AsSpan().SequenceEqual(actual), Differences(expected, actual, width));
}
