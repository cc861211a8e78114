using SpectralMonitor.Benchmarks.Detection;
using SpectralMonitor.Reference.Monitoring;

namespace SpectralMonitor.Tests.Detection;

// SpikeDefinitions.cs in this folder is a link to benchmarks/Detection/SpikeDefinitions.cs.
public class SpikeDefinitionsTests
{
    /// <summary>A loss that falls from 2 to a floor of 0.02 by step 60 and stays there (plus <paramref name="changes"/>).</summary>
    private static double[] Losses(int steps, params (int Step, double Value)[] changes)
    {
        var losses = Enumerable.Range(0, steps).Select(t => Math.Max(0.02, 2.0 - (t / 30.0))).ToArray();
        foreach (var (step, value) in changes)
        {
            losses[step] = value;
        }

        return losses;
    }

    [Fact]
    public void ASingleNoisyBatchOfANearZeroLossIsNotMaterialButIsALibrarySpike()
    {
        // The initial loss (mean of the first five) is 2 − 10/150 = 1.9333, so the material bar is a rise of 0.19333.
        // One batch at 0.5 on a floor of 0.02: the 5-step mean rises from 0.02 to 0.116 (5.8×, a doubling) but by
        // 0.096, below the bar. The library's definition counts it.
        var losses = Losses(300, (200, 0.5));

        Assert.Empty(SpikeDefinitions.Material(losses));
        Assert.Equal(new[] { 200 }, SpikeDefinitions.Library(losses));
        Assert.Equal(Spikes.Onsets(losses), SpikeDefinitions.Of(SpikeDefinitions.LibraryName, losses));
    }

    [Fact]
    public void ASustainedRiseCountsOnceAtTheStepTheWindowMeanCrossesBothBars()
    {
        // From step 200 the loss is 0.3 for 20 steps: the window mean is 0.02 + k·0.056 after k such steps, a doubling
        // at once and a rise of at least 0.19333 from k = 4 (0.224), i.e. at step 203. One spike, though the mean stays up.
        var changes = Enumerable.Range(200, 20).Select(t => (t, 0.3)).ToArray();
        var losses = Losses(300, changes);

        Assert.Equal(new[] { 203 }, SpikeDefinitions.Material(losses));
    }

    [Fact]
    public void SpikesCloserThanTheSeparationCountOnceAndFartherOnesTwice()
    {
        var burst = Enumerable.Range(0, 6).Select(k => k).ToArray();
        (int, double)[] At(int start) => [.. burst.Select(k => (start + k, 1.5))];

        // Six steps at 1.5: a spike is under way from the burst's first step until its window has emptied (10 steps).
        // Bursts at 150 and 170: the second starts 10 quiet steps after the first, fewer than 25: one spike.
        Assert.Single(SpikeDefinitions.Material(Losses(400, [.. At(150), .. At(170)])));

        // Bursts at 150 and 250: two spikes.
        Assert.Equal(2, SpikeDefinitions.Material(Losses(400, [.. At(150), .. At(250)])).Count);
    }

    [Fact]
    public void ANonFiniteLossIsASpikeAfterTheBurnInOnly()
    {
        Assert.Equal(new[] { 100 }, SpikeDefinitions.Material(Losses(101, (100, double.NaN))));
        Assert.Equal(new[] { 100 }, SpikeDefinitions.Material(Losses(101, (100, double.PositiveInfinity))));
        Assert.Empty(SpikeDefinitions.Material(Losses(101, (10, double.NaN))));
    }

    [Fact]
    public void TheRecentMinimumForgetsAfterItsWindow()
    {
        // The loss steps up from its floor to 0.5 at step 200 and stays. The window mean after k such steps is
        // 0.02 + 0.096·k: a rise of 0.192 at step 201 (below 0.19333), 0.288 at step 202, the onset. From step 302 the
        // 100-step minimum has forgotten the floor (0.308 at step 202, no doubling to 0.5): the plateau is the new
        // normal and no further onset follows.
        var changes = Enumerable.Range(200, 400).Select(t => (t, 0.5)).ToArray();

        Assert.Equal(new[] { 202 }, SpikeDefinitions.Material(Losses(600, changes)));
    }

    [Fact]
    public void WindowMeansAverageTheFiniteLossesOfTheWindow()
    {
        Assert.Equal(new[] { 1.0, 1.5, 2.5, 3.0 }, SpikeDefinitions.WindowMeans([1, 2, 3, double.NaN], 2));
        Assert.Empty(SpikeDefinitions.Material([]));
        Assert.Throws<ArgumentException>(() => SpikeDefinitions.Of("other", [1.0]));
    }

    [Fact]
    public void SwingsOfARunThatBlewUpAboveItsInitialLossAreNotNewSpikes()
    {
        // From step 100 the loss alternates 60 steps at 10 and 60 steps at 40 (all above the initial 1.9333): one
        // spike at the blow-up (step 100), none at the later doublings from 10 to 40.
        var changes = Enumerable.Range(100, 500).Select(t => (t, ((t - 100) / 60) % 2 == 0 ? 10.0 : 40.0)).ToArray();

        Assert.Equal(new[] { 100 }, SpikeDefinitions.Material(Losses(600, changes)));

        // The same swings with a floor below the initial loss are spikes: 0.5 ↔ 1.5 (rise 1 ≥ 0.193, factor 3).
        var low = Enumerable.Range(100, 500).Select(t => (t, ((t - 100) / 60) % 2 == 0 ? 0.5 : 1.5)).ToArray();
        Assert.True(SpikeDefinitions.Material(Losses(600, low)).Count > 2);
    }
}
