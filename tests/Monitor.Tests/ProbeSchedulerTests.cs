using SpectralMonitor.Probing;

namespace SpectralMonitor.Tests;

public class ProbeSchedulerTests
{
    [Fact]
    public void CumulativeProbeTimeStaysWithinTheBudget()
    {
        // 1 ms steps, a 5% budget, a cold first probe of 100 ms then warm probes of 10 ms.
        var options = new StabilityMonitorOptions { ProbeInterval = 10, FirstProbeStep = 10, OverheadBudget = 0.05, BringForwardOnTrend = false, MaxProbeInterval = 1_000_000 };
        var scheduler = new ProbeScheduler(options);
        double probeTime = 0, stepTime = 0;
        bool first = true;
        for (long step = 0; step < 200_000; step++)
        {
            scheduler.RecordStep(0.001);
            stepTime += 0.001;
            if (scheduler.IsDue(step))
            {
                double cost = first ? 0.1 : 0.01;
                first = false;
                probeTime += cost;
                scheduler.Completed(step, cost, succeeded: true, trendingUp: false);
            }
        }

        // The cold probe is paid back: cumulative overhead ends within the budget (to one interval's rounding).
        double overhead = probeTime / (probeTime + stepTime);
        Assert.InRange(overhead, 0.045, 0.0501);
        // After it, the next probe (its cost predicted by the last one's, 0.1 s) waits (0.1 + 0.1)·19/0.001 − 0.001
        // ≈ 3 800 steps of training, not 10.
        var again = new ProbeScheduler(options);
        again.RecordStep(0.001);
        again.Completed(10, 0.1, succeeded: true, trendingUp: false);
        Assert.InRange(again.NextProbeStep - 10, 3798, 3800);
    }

    [Fact]
    public void FailuresDoubleTheIntervalAndTrendsHalveIt()
    {
        var options = new StabilityMonitorOptions { ProbeInterval = 20, OverheadBudget = 1 };
        var scheduler = new ProbeScheduler(options);
        scheduler.Completed(0, 0.01, succeeded: false, trendingUp: false);
        Assert.Equal(40, scheduler.Interval);
        scheduler.Completed(40, 0.01, succeeded: false, trendingUp: false);
        Assert.Equal(80, scheduler.Interval);
        scheduler.Completed(120, 0.01, succeeded: true, trendingUp: true);
        Assert.Equal(10, scheduler.Interval);
    }
}
