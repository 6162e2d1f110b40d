using Wuerstchen.Core;
using Xunit;

namespace Wuerstchen.Core.Tests;

public class ExecutionOptionsTests
{
    [Fact]
    public void AutoPrepacksTheNetworksThatRunEveryStepButNotTheTextEncoders()
    {
        var auto = new ExecutionOptions();
        Assert.False(auto.PrepacksWeights(NetworkKind.PriorTextEncoder));
        Assert.False(auto.PrepacksWeights(NetworkKind.DecoderTextEncoder));
        Assert.True(auto.PrepacksWeights(NetworkKind.Prior));
        Assert.True(auto.PrepacksWeights(NetworkKind.Decoder));
        Assert.True(auto.PrepacksWeights(NetworkKind.Vqgan));
        Assert.True(auto.PrepacksWeights(NetworkKind.Effnet));
    }

    [Fact]
    public void OnAndOffApplyToEveryNetworkAndArePartOfTheSessionKey()
    {
        foreach (var kind in Enum.GetValues<NetworkKind>())
        {
            Assert.True(new ExecutionOptions { Prepacking = Prepacking.On }.PrepacksWeights(kind));
            Assert.False(new ExecutionOptions { Prepacking = Prepacking.Off }.PrepacksWeights(kind));
        }

        Assert.NotEqual(new ExecutionOptions { Prepacking = Prepacking.On }, new ExecutionOptions());
    }
}
