using System.Text.Json;
using System.Text.Json.Serialization;
using Wuerstchen.Core.Noise;
using Xunit;

namespace Wuerstchen.Core.Tests.Noise;

/// <summary>TorchGenerator.Randn against torch CPU reference draws (data/rng-vectors.json).</summary>
public class TorchGeneratorReferenceVectorTests
{
    // ------------------------------------------------------------------ reference vectors (torch on x86-64 Linux)

    private sealed record RngDraw(
        [property: JsonPropertyName("shape")] int[] Shape,
        [property: JsonPropertyName("count")] int Count,
        [property: JsonPropertyName("first")] double[] First,
        [property: JsonPropertyName("last")] double[] Last,
        [property: JsonPropertyName("sum")] double Sum,
        [property: JsonPropertyName("sum_sq")] double SumSq);

    private sealed record RngEntry(
        [property: JsonPropertyName("seed")] ulong Seed,
        [property: JsonPropertyName("draws")] RngDraw[] Draws);

    private static readonly Lazy<RngEntry[]> Vectors = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "data", "rng-vectors.json");
        return JsonSerializer.Deserialize<RngEntry[]>(File.ReadAllText(path))
            ?? throw new InvalidDataException($"Could not read {path}");
    });

    public static IEnumerable<object[]> VectorCases()
    {
        RngEntry[] entries = Vectors.Value;
        for (int e = 0; e < entries.Length; e++)
            for (int d = 0; d < entries[e].Draws.Length; d++)
                yield return new object[] { e, d };
    }

    /// <summary>Replays the draws of one entry up to and including <paramref name="drawIndex"/>.</summary>
    private static (float[] Values, TorchGenerator Generator, long ExpectedOffset) Replay(RngEntry entry, int drawIndex)
    {
        var g = new TorchGenerator(entry.Seed);
        float[] values = Array.Empty<float>();
        long offset = 0;
        for (int d = 0; d <= drawIndex; d++)
        {
            values = g.Randn(entry.Draws[d].Count);
            offset += TorchGenerator.WordsForRandn(entry.Draws[d].Count);
        }
        return (values, g, offset);
    }

    [Fact]
    public void ReferenceFileCoversTheInterestingCases()
    {
        RngEntry[] entries = Vectors.Value;
        Assert.NotEmpty(entries);
        var counts = entries.SelectMany(e => e.Draws).Select(d => d.Count).ToArray();
        Assert.Contains(counts, c => c % 16 != 0); // a recomputed tail
        Assert.Contains(counts, c => c >= 100_000);
        Assert.Contains(entries, e => e.Draws.Length > 1); // consecutive draws from one generator
    }

    [Theory]
    [MemberData(nameof(VectorCases))]
    public void Randn_MatchesTorchReferenceVector(int entryIndex, int drawIndex)
    {
        RngEntry entry = Vectors.Value[entryIndex];
        RngDraw draw = entry.Draws[drawIndex];
        Assert.Equal(draw.Count, draw.Shape.Aggregate(1, (a, b) => a * b));

        var (values, g, expectedOffset) = Replay(entry, drawIndex);

        Assert.Equal(draw.Count, values.Length);
        for (int i = 0; i < draw.First.Length; i++)
            Assert.True(Math.Abs(values[i] - draw.First[i]) <= 1e-6,
                $"seed {entry.Seed} draw {drawIndex} first[{i}]: expected {draw.First[i]:R}, got {values[i]:R}");
        for (int i = 0; i < draw.Last.Length; i++)
        {
            int at = draw.Count - draw.Last.Length + i;
            Assert.True(Math.Abs(values[at] - draw.Last[i]) <= 1e-6,
                $"seed {entry.Seed} draw {drawIndex} [{at}]: expected {draw.Last[i]:R}, got {values[at]:R}");
        }

        double sum = 0, sumSq = 0;
        foreach (float v in values) { sum += v; sumSq += (double)v * v; }
        Assert.True(Math.Abs(sum - draw.Sum) <= 1e-6 * Math.Max(1.0, Math.Abs(draw.Sum)), $"sum {sum:R} vs {draw.Sum:R}");
        Assert.True(Math.Abs(sumSq - draw.SumSq) <= 1e-6 * Math.Max(1.0, draw.SumSq), $"sum_sq {sumSq:R} vs {draw.SumSq:R}");

        Assert.Equal(expectedOffset, g.Offset);
    }

    [Fact]
    public void Randn_ReproducesReferenceVectorsBitExactly()
    {
        int compared = 0;
        var mismatches = new List<string>();
        foreach (RngEntry entry in Vectors.Value)
        {
            var g = new TorchGenerator(entry.Seed);
            foreach (RngDraw draw in entry.Draws)
            {
                float[] values = g.Randn(draw.Count);
                for (int i = 0; i < draw.First.Length; i++, compared++)
                    if (BitConverter.SingleToInt32Bits(values[i]) != BitConverter.SingleToInt32Bits((float)draw.First[i]))
                        mismatches.Add($"seed {entry.Seed} count {draw.Count} [{i}]");
                for (int i = 0; i < draw.Last.Length; i++, compared++)
                {
                    int at = draw.Count - draw.Last.Length + i;
                    if (BitConverter.SingleToInt32Bits(values[at]) != BitConverter.SingleToInt32Bits((float)draw.Last[i]))
                        mismatches.Add($"seed {entry.Seed} count {draw.Count} [{at}]");
                }

                // The reference sums are exact double sums of the float values, so they work as a checksum of
                // the whole tensor: a single element off by one ulp (>= ~1e-9 here) shows up.
                double sum = 0, sumSq = 0;
                foreach (float v in values) { sum += v; sumSq += (double)v * v; }
                if (Math.Abs(sum - draw.Sum) > 1e-9 * Math.Max(1.0, Math.Abs(draw.Sum)))
                    mismatches.Add($"seed {entry.Seed} count {draw.Count} sum {sum:R} != {draw.Sum:R}");
                if (Math.Abs(sumSq - draw.SumSq) > 1e-11 * Math.Max(1.0, draw.SumSq))
                    mismatches.Add($"seed {entry.Seed} count {draw.Count} sum_sq {sumSq:R} != {draw.SumSq:R}");
            }
        }
        Assert.True(compared > 0);
        Assert.True(mismatches.Count == 0, "Not bit-exact at: " + string.Join(", ", mismatches));
    }
}
