using SpectralMonitor.Benchmarks.Detection;

namespace SpectralMonitor.Tests.Detection;

// ZClip.cs in this folder is a link to benchmarks/Detection/ZClip.cs (the reactive study's baseline).
public class ZClipTests
{
    [Fact]
    public void ClipsAtMeanPlusTwoAndAHalfSdAfterTheWarmUpAndUpdatesWithTheClippedNorm()
    {
        var clip = new ZClip();

        // Warm-up: 20 norms alternating 1 and 3 → mean 2, variance 1 (population); nothing is clipped meanwhile,
        // not even a large norm.
        for (int i = 0; i < ZClip.WarmupSteps; i++)
        {
            Assert.Equal(1, clip.Scale(i % 2 == 0 ? 1 : 3));
        }

        // Limit 2 + 2.5 · 1 = 4.5: a norm of 9 is scaled by 4.5 / 9; the EMA then sees 4.5, not 9:
        // mean = 0.97 · 2 + 0.03 · 4.5 = 2.075; variance = 0.97 · 1 + 0.03 · (4.5 − 2.075)² = 1.14641875.
        Assert.Equal(0.5, clip.Scale(9), 15);
        Assert.Equal(1, clip.Clipped);
        double limit = 2.075 + (2.5 * Math.Sqrt(1.14641875));

        // A norm just below the new limit passes untouched; one above it is scaled to the limit.
        var twin = new ZClip();
        for (int i = 0; i < ZClip.WarmupSteps; i++)
        {
            twin.Scale(i % 2 == 0 ? 1 : 3);
        }

        twin.Scale(9);
        Assert.Equal(1, twin.Scale(limit - 1e-9));
        Assert.Equal(limit / 10, clip.Scale(10), 12);
        Assert.Equal(2, clip.Clipped);
    }

    [Fact]
    public void NonFiniteNormsAreLeftAlone()
    {
        var clip = new ZClip();
        Assert.Equal(1, clip.Scale(double.NaN));
        Assert.Equal(1, clip.Scale(double.PositiveInfinity));
        Assert.Equal(0, clip.Clipped);
    }
}
