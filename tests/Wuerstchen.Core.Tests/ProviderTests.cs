using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// The provider the parity jobs run on (WUERSTCHEN_TEST_PROVIDER): on the CPU by default, on CUDA under
/// scripts/gpu-check.sh. These are the xunit tests that need a GPU there: with Cuda the sessions must really be on CUDA.
/// </summary>
public class ProviderTests
{
    [Fact]
    public void ParitySessionsRunOnTheRequestedProvider()
    {
        var execution = ParityJobs.Execution;
        var model = ModelFolder.Open(ParityJobs.Models);
        var cache = new SessionCache();
        foreach (var kind in new[] { NetworkKind.Prior, NetworkKind.Decoder, NetworkKind.Vqgan })
        {
            using var lease = cache.Acquire(kind, model.NetworkPath(kind), execution);
            Assert.Equal(execution.Provider == ExecutionProviderKind.Cuda ? "CUDA" : "CPU", lease.Session.Provider);
        }

        cache.Clear();
    }

    [Theory]
    [InlineData(null, ExecutionProviderKind.Cpu)]
    [InlineData(" ", ExecutionProviderKind.Cpu)]
    [InlineData("cuda", ExecutionProviderKind.Cuda)]
    [InlineData("Cpu", ExecutionProviderKind.Cpu)]
    public void TheProviderVariableIsReadAsDocumented(string? value, ExecutionProviderKind expected) =>
        Assert.Equal(expected, ParityJobs.ProviderFrom(value));

    [Theory]
    [InlineData("Auto")] // would pass on the CPU where CUDA is missing: the GPU check must not do that
    [InlineData("gpu")]
    public void AProviderThatCannotProveCudaIsRefused(string value)
    {
        var ex = Assert.Throws<ArgumentException>(() => ParityJobs.ProviderFrom(value));
        Assert.Contains(value, ex.Message);
    }
}
