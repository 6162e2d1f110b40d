using Wuerstchen.Core.Noise;
using Xunit;

namespace Wuerstchen.Core.Tests.Noise;

/// <summary>The fdlibm log1p port (the serial path's log).</summary>
public class FdlibmTests
{
    [Fact]
    public void Log1p_IsAccurate()
    {
        Assert.Equal(0.0, Fdlibm.Log1p(0.0));
        Assert.Equal(Math.Log(0.5), Fdlibm.Log1p(-0.5), 1e-16);
        Assert.Equal(double.NegativeInfinity, Fdlibm.Log1p(-1.0));
        Assert.True(double.IsNaN(Fdlibm.Log1p(-2.0)));
        Assert.Equal(1e-12 - 0.5e-24, Fdlibm.Log1p(1e-12), 4e-28); // where log(1 + x) loses digits
        Assert.Equal(-1e-9 - 0.5e-18, Fdlibm.Log1p(-1e-9), 4e-25);
        var rng = new Random(3);
        for (int i = 0; i < 10000; i++)
        {
            // the serial path's domain is log1p(-u2), u2 in [0, 1); for x <= -0.5, 1 + x is exact (Sterbenz)
            double x = -0.5 - 0.5 * rng.NextDouble();
            double expected = Math.Log(1.0 + x);
            Assert.True(Math.Abs(Fdlibm.Log1p(x) - expected) <= 4e-16 * Math.Abs(expected), $"x = {x:R}");
        }
    }
}
