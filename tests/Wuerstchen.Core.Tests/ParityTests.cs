using Xunit;
using Xunit.Abstractions;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// The three parity jobs against the float32 diffusers reference (data/parity, made by reference.py):
/// embeddings within 1e-3 relative, image bytes within 2 everywhere and within 1 on 99.9 % of values.
/// </summary>
public class ParityTests
{
    private readonly ITestOutputHelper _out;

    public ParityTests(ITestOutputHelper output) => _out = output;

    public static IEnumerable<object[]> Jobs => ParityJobs.Names();

    [Theory]
    [MemberData(nameof(Jobs))]
    public void EmbeddingsMatchTheReference(string job)
    {
        var (prior, _) = ParityJobs.Load(job);
        var embeddings = ParityJobs.Pipeline().RunPrior(prior);
        var expected = ParityJobs.Expected(job, "embeddings");
        Assert.Equal(expected.Shape[0], embeddings.Count);
        Assert.Equal(expected.Shape.Skip(1), embeddings[0].Shape);
        var actual = embeddings.SelectMany(e => e.Data).ToArray();
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(actual[i] - expected.Floats![i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected.Floats[i]));
        }

        _out.WriteLine($"{job}: max |a-b| = {maxDiff:G4}, max |b| = {maxRef:G4}, relative {maxDiff / maxRef:G4}");
        ParityJobs.Report(FormattableString.Invariant($"parity {job} embeddings relative {maxDiff / maxRef:G4} (tolerance 1e-3)"));
        Assert.True(maxDiff / maxRef <= 1e-3, $"relative error {maxDiff / maxRef} > 1e-3");
    }

    [Theory]
    [MemberData(nameof(Jobs))]
    public void ImagesMatchTheReference(string job)
    {
        var (prior, decoder) = ParityJobs.Load(job);
        var images = ParityJobs.Pipeline().Generate(prior, decoder);
        var expected = ParityJobs.Expected(job, "images");
        Assert.Equal(expected.Shape[0], images.Count);
        Assert.Equal(expected.Shape[1], images[0].Height);
        Assert.Equal(expected.Shape[2], images[0].Width);
        var actual = images.SelectMany(i => i.Pixels).ToArray();
        Assert.Equal(expected.Bytes!.Length, actual.Length);
        int max = 0;
        long over1 = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            int d = Math.Abs(actual[i] - expected.Bytes[i]);
            max = Math.Max(max, d);
            if (d > 1)
            {
                over1++;
            }
        }

        _out.WriteLine($"{job}: max byte diff {max}, values off by more than 1: {over1} of {actual.Length}");
        ParityJobs.Report($"parity {job} pixels max {max} levels, {over1} of {actual.Length} off by more than 1 (tolerance: max 2, at most 0.1 % over 1)");
        Assert.True(max <= 2, $"max byte difference {max} > 2");
        Assert.True(over1 <= actual.Length / 1000, $"{over1} values differ by more than 1");
    }

    [Fact]
    public void StagesRunApartGiveExactlyTheOneShotPixels()
    {
        var (prior, decoder) = ParityJobs.Load("v3-batch-negative");
        var pipeline = ParityJobs.Pipeline();
        var oneShot = pipeline.Generate(prior, decoder);
        var embeddings = pipeline.RunPrior(prior);
        var split = pipeline.RunDecoder(embeddings, decoder);
        Assert.Equal(oneShot.Count, split.Count);
        for (int i = 0; i < split.Count; i++)
        {
            Assert.Equal(oneShot[i].Pixels, split[i].Pixels);
        }
    }

    [Fact]
    public void OneRowOfABatchDecodedAloneGetsItsOwnNoise()
    {
        var (prior, decoder) = ParityJobs.Load("v3-batch-negative");
        var pipeline = ParityJobs.Pipeline();
        var embeddings = pipeline.RunPrior(prior);
        var both = pipeline.RunDecoder(embeddings, decoder);
        var second = pipeline.RunDecoder(new[] { embeddings[1] }, decoder);
        var diff = both[1].Pixels.Zip(second[0].Pixels, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(diff <= 1, $"row 1 alone differs by {diff}");
        Assert.NotEqual(both[0].Pixels, both[1].Pixels);
    }

    [Fact]
    public void AnExplicitDecoderSeedStartsAFreshGenerator()
    {
        var (prior, decoder) = ParityJobs.Load("v1-small");
        var pipeline = ParityJobs.Pipeline();
        var embeddings = pipeline.RunPrior(prior);
        var continued = pipeline.RunDecoder(embeddings, decoder);
        var fresh = pipeline.RunDecoder(embeddings, decoder with { Seed = prior.Seed });
        var fresh2 = pipeline.RunDecoder(new[] { StripStream(embeddings[0]) }, decoder);
        Assert.Equal(prior.Seed, fresh[0].Seed);
        Assert.NotEqual(continued[0].Pixels, fresh[0].Pixels);
        Assert.Equal(fresh[0].Pixels, fresh2[0].Pixels);
    }

    private static WuerstchenEmbedding StripStream(WuerstchenEmbedding e) => new()
    {
        Prompt = e.Prompt, NegativePrompt = e.NegativePrompt, Seed = e.Seed, Width = e.Width, Height = e.Height,
        Shape = e.Shape, Data = e.Data, Stream = null,
    };

    [Fact]
    public void SameSeedSameImageDifferentSeedDifferentImage()
    {
        var (prior, decoder) = ParityJobs.Load("v1-small");
        var pipeline = ParityJobs.Pipeline();
        var a = pipeline.Generate(prior, decoder);
        var b = pipeline.Generate(prior, decoder);
        var c = pipeline.Generate(prior with { Seed = prior.Seed + 1 }, decoder);
        Assert.Equal(a[0].Pixels, b[0].Pixels);
        Assert.NotEqual(a[0].Pixels, c[0].Pixels);
    }

    [Fact]
    public void BatchRowsArePromptMajorAndEqualSeparateRunsOfEachPrompt()
    {
        var pipeline = ParityJobs.Pipeline();
        var settings = new PriorSettings { Prompts = new[] { "a red apple", "a blue car" }, ImagesPerPrompt = 2, Width = 256, Height = 256, Seed = 3, PriorSteps = 4 };
        var rows = pipeline.RunPrior(settings);
        Assert.Equal(new[] { "a red apple", "a red apple", "a blue car", "a blue car" }, rows.Select(r => r.Prompt));
        Assert.Equal(new[] { 0, 1, 0, 1 }, rows.Select(r => r.ImageIndex));
        Assert.Equal(new[] { 0, 0, 1, 1 }, rows.Select(r => r.PromptIndex));
        // same prompt, same noise slot → differs only by the noise; a different prompt changes the target
        Assert.NotEqual(rows[0].Data, rows[1].Data);

        // a separate run of each prompt over the same four noise slots (the batch's shape and seed) gives that
        // prompt's rows bit for bit: rows are prompt-major and each row depends only on its prompt and its slot
        var apple = pipeline.RunPrior(settings with { Prompts = new[] { "a red apple", "a red apple" } });
        var car = pipeline.RunPrior(settings with { Prompts = new[] { "a blue car", "a blue car" } });
        Assert.Equal(apple[0].Data, rows[0].Data);
        Assert.Equal(apple[1].Data, rows[1].Data);
        Assert.Equal(car[2].Data, rows[2].Data);
        Assert.Equal(car[3].Data, rows[3].Data);
        Assert.NotEqual(apple[2].Data, rows[2].Data); // the prompt matters: the same slot with the other prompt differs
    }

    [Fact]
    public void CancellationStopsTheLoop()
    {
        var (prior, decoder) = ParityJobs.Load("v2-defaults");
        using var cts = new CancellationTokenSource();
        int steps = 0;
        var pipeline = new WuerstchenPipeline(ModelFolder.Open(TestPaths.StandinModels), ExecutionOptions.Cpu, new SessionCache())
        {
            Progress = p =>
            {
                if (++steps == 3)
                {
                    cts.Cancel();
                }
            },
        };
        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Generate(prior, decoder, cts.Token));
        Assert.Equal(3, steps);
    }
}
