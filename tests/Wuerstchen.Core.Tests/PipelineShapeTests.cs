using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>The rules the reshaped engine states once: the decoder stage's stream rule and the once-per-session contract check.</summary>
public class PipelineShapeTests
{
    [Fact]
    public void TheDecoderStageSaysWhichEmbeddingsContinueTheirStreamTogether()
    {
        var pipeline = ParityJobs.Pipeline();
        var settings = new PriorSettings { Prompts = new[] { "a", "b" }, Width = 256, Height = 256, Seed = 4, PriorSteps = 2 };
        var batch = pipeline.RunPrior(settings);
        var other = pipeline.RunPrior(settings);

        Assert.True(DecoderStage.ContinuesStream(batch[0], seed: null));
        Assert.False(DecoderStage.ContinuesStream(batch[0], seed: 7)); // an explicit seed starts a fresh generator
        Assert.True(DecoderStage.SharesStream(batch[0], batch[1]));
        Assert.False(DecoderStage.SharesStream(batch[0], other[1])); // same numbers, another batch
        Assert.True(DecoderStage.IsWholeBatch(batch));
        Assert.False(DecoderStage.IsWholeBatch(new[] { batch[0] }));
        Assert.False(DecoderStage.IsWholeBatch(new[] { batch[1], batch[0] })); // rows out of order: not the whole batch in order

        var imported = new WuerstchenEmbedding { Shape = batch[0].Shape, Data = batch[0].Data };
        Assert.False(DecoderStage.ContinuesStream(imported, seed: null));
        Assert.False(DecoderStage.SharesStream(imported, imported));
    }

    [Fact]
    public void AContractCheckRunsOncePerSessionAndAFailedOneAgain()
    {
        var cache = new SessionCache();
        var path = Path.Combine(TestPaths.StandinModels, "vqgan", "model.onnx");
        int checks = 0;
        void Check(OnnxSession stage) => checks++;
        using (var lease = cache.Acquire(NetworkKind.Vqgan, path, ExecutionOptions.Cpu))
        {
            lease.EnsureChecked("contract", Check);
        }

        using (var lease = cache.Acquire(NetworkKind.Vqgan, path, ExecutionOptions.Cpu))
        {
            lease.EnsureChecked("contract", Check);
            lease.EnsureChecked("another contract", Check);
        }

        Assert.Equal(2, checks);

        using (var lease = cache.Acquire(NetworkKind.Vqgan, path, ExecutionOptions.Cpu))
        {
            Assert.Throws<InvalidOperationException>(() => lease.EnsureChecked("failing", _ => throw new InvalidOperationException()));
            lease.EnsureChecked("failing", Check); // not recorded as passed: checked again
        }

        Assert.Equal(3, checks);
        cache.Clear();
        using (var lease = cache.Acquire(NetworkKind.Vqgan, path, ExecutionOptions.Cpu))
        {
            lease.EnsureChecked("contract", Check); // a new session is checked again
        }

        Assert.Equal(4, checks);
    }

    [Fact]
    public void EachLeaseIsReportedBeforeAndAfterWithWhetherItWasCached()
    {
        var loads = new List<NetworkLoad>();
        var pipeline = new WuerstchenPipeline(ModelFolder.Open(ParityJobs.Models), ExecutionOptions.Cpu, new SessionCache()) { Loading = loads.Add };
        var settings = new PriorSettings { Prompts = new[] { "a" }, Width = 256, Height = 256, Seed = 1, PriorSteps = 2 };
        pipeline.RunPrior(settings);
        var first = loads.ToList();
        loads.Clear();
        pipeline.RunPrior(settings);

        // the text encoder first: with LowMemory it is gone before the prior is loaded
        Assert.Equal(new[] { NetworkKind.PriorTextEncoder, NetworkKind.PriorTextEncoder, NetworkKind.Prior, NetworkKind.Prior }, first.Select(l => l.Network));
        Assert.Equal(new TimeSpan?[] { null }, first.Where((_, i) => i % 2 == 0).Select(l => l.Elapsed).Distinct());
        Assert.All(first.Where((_, i) => i % 2 == 1), l => Assert.False(l.Cached));
        Assert.All(loads.Where((_, i) => i % 2 == 1), l => Assert.True(l.Cached));
        Assert.All(loads.Where((_, i) => i % 2 == 1), l => Assert.Equal("CPU", l.Provider));
    }

    [Fact]
    public void LowMemoryReleasesEachTextEncoderBeforeItsDiffusionNetworkLoads()
    {
        var cache = new SessionCache();
        var heldWhenLoading = new List<(NetworkKind Network, int Sessions)>();
        var pipeline = new WuerstchenPipeline(ModelFolder.Open(ParityJobs.Models), ExecutionOptions.Cpu, cache)
        {
            LowMemory = true,
            Loading = l => { if (l.Elapsed is null) { heldWhenLoading.Add((l.Network, cache.Count)); } },
        };
        pipeline.Generate(new PriorSettings { Prompts = new[] { "a" }, Width = 256, Height = 256, Seed = 1, PriorSteps = 2 },
            new DecoderSettings { DecoderSteps = 2 });

        Assert.Equal(new[] { NetworkKind.PriorTextEncoder, NetworkKind.Prior, NetworkKind.DecoderTextEncoder, NetworkKind.Decoder, NetworkKind.Vqgan },
            heldWhenLoading.Select(h => h.Network));
        Assert.All(heldWhenLoading, h => Assert.Equal(0, h.Sessions)); // nothing else loaded while each network loads
        Assert.Equal(0, cache.Count);
    }
}
