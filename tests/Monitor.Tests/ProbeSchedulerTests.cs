using SpectralMonitor.Probing;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

/// <summary>
/// The overhead budget on a manual clock: training steps, probes and sensor reads advance it by set amounts. Optional
/// work fills the 5% budget less its 10% reserve, 4.5% (the sensor half of that, 2.25%). Costs are exact (the clock
/// counts 100 ns ticks; the only rounding is the double sums of tick counts converted to seconds, about 1e-16 relative,
/// which is why bounds carry a 1e-12 slack or a one-step range at a boundary).
/// </summary>
public class ProbeSchedulerTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void TheFirstProbeWaitsUntilTrainingPaysForItsEstimateAndCumulativeCostStaysWithinTheBudget()
    {
        // 1 ms steps, 5% budget, probes costing 30 ms each (less than the cold estimate of 3 × (16 + 2) = 54 steps = 54 ms).
        var (total, probeSteps) = TrainWithProbesOf(30, overrun: 0);

        // Not at FirstProbeStep (10): training time T after step n is n ms (the time before step 0 is not seen), and
        // the cold estimate 54 × 1 ms fits once 0.054 ≤ 0.045·T, at n = 1200 (1201 if the sums round against it).
        Assert.InRange(probeSteps[0], 1200, 1201);

        // Afterwards each 30 ms probe runs once the ledger has room for it: the second when 0.06 ≤ 0.045·T (step 1334, past
        // its nominal step 1225), then one per 666.7 steps (0.03 s of probe per 0.667 s of training).
        Assert.Equal(0.03 * probeSteps.Count, total.ProbeSeconds, 9);
        Assert.Equal(total.ProbeSeconds, total.MonitorSeconds, 9);
        Assert.InRange(total.Overhead, 0.0435, 0.045 + 1e-12);
        Assert.InRange(probeSteps[1], 1334, 1335);
        Assert.InRange(probeSteps[^1] - probeSteps[^2], 666, 668);
    }

    [Fact]
    public void AColdProbeCostlierThanItsEstimateOverrunsByTheDifferenceOnlyAndIsPaidBack()
    {
        // Probes of 200 ms against the cold estimate of 54 ms: the first overruns 4.5% of T by 146 ms; no other probe runs until
        // the training time pays the overrun back, and the run ends within the budget.
        var (total, probeSteps) = TrainWithProbesOf(200, overrun: 0.146);

        // The second probe fits when 0.2 + 0.2 ≤ 0.045·T: T = 8.89 s, step 8889; the third at 0.6 ≤ 0.045·T, step
        // 13334. The run ends at T ≈ 20 s with four probes (0.8 s): 4%.
        Assert.InRange(probeSteps[0], 1200, 1201);
        Assert.InRange(probeSteps[1], 8889, 8890);
        Assert.InRange(probeSteps[2], 13334, 13335);
        Assert.InRange(total.Overhead, 0.04 - 1e-9, 0.045 + 1e-12);
    }

    /// <summary>
    /// <paramref name="steps"/> steps of 1 ms without probes, the sensor's read k costing <paramref name="readMilliseconds"/>(k),
    /// checking after every step that the sensor's time stays within its 2.25% plus <paramref name="overrun"/> seconds.
    /// </summary>
    private static (SensingTarget Target, MonitorCost Cost) TrainWithSensorReadsOf(Func<int, double> readMilliseconds, int steps, double overrun)
    {
        var time = new ManualTime();
        int reads = 0;
        var target = new SensingTarget(new FakeTarget([4, 3, 2, 1]), () => time.Advance(TimeSpan.FromMilliseconds(readMilliseconds(reads++))));
        var options = new StabilityMonitorOptions { RunName = "budget-sensor", FirstProbeStep = 1_000_000, Rules = [] };
        using var monitor = StabilityMonitor.Create(target, options, timeProvider: time);
        for (long step = 0; step < steps; step++)
        {
            time.Advance(Step);
            monitor.OnStep(step, 1.0);
            var cost = monitor.Cost;
            Assert.True(cost.SensorSeconds <= (0.0225 * cost.TrainingSeconds) + overrun + 1e-12, $"step {step}: {cost}");
        }

        return (target, monitor.Cost);
    }

    /// <summary>
    /// 20,000 steps of 1 ms at the default options with probes of <paramref name="probeMilliseconds"/>, checking after
    /// every step that monitor time stays within 4.5% of the training time plus <paramref name="overrun"/> seconds.
    /// </summary>
    private static (MonitorCost Cost, List<long> ProbeSteps) TrainWithProbesOf(double probeMilliseconds, double overrun)
    {
        var time = new ManualTime();
        var target = new FakeTarget([4, 3, 2, 1]);
        target.OnBeginProbe = () => time.Advance(TimeSpan.FromMilliseconds(probeMilliseconds));
        using var monitor = StabilityMonitor.Create(target, new StabilityMonitorOptions { RunName = "budget-probes" }, timeProvider: time);
        var probeSteps = new List<long>();
        monitor.ProbeCompleted += (_, probe) => probeSteps.Add(probe.Step);
        for (long step = 0; step < 20_000; step++)
        {
            time.Advance(Step);
            monitor.OnStep(step, 1.0);
            var cost = monitor.Cost;
            Assert.True(cost.MonitorSeconds <= (0.045 * cost.TrainingSeconds) + overrun + 1e-12, $"step {step}: {cost}");
        }

        return (monitor.Cost, probeSteps);
    }

    [Theory]
    [InlineData(0.05, 10, 5)] // cheap: 0.01 ms per step on average, within the sensor's 0.0225 ms per step: every 5th step
    [InlineData(0.3, 27, 13)] // costly: 0.3 ms per read fits once per 13.3 steps of the sensor's 0.0225 ms per step
    public void SensorReadsStayWithinHalfTheBudgetAndComeAtTheirIntervalWhenCheap(double readMilliseconds, long thirdRead, long gap)
    {
        // Overrun: the second read, the first charged, whose cost is unknown until it is made (estimated 0).
        var (target, cost) = TrainWithSensorReadsOf(_ => readMilliseconds, steps: 2000, overrun: readMilliseconds / 1000);

        // The read due at step 0 waits for the first call after training time has been seen (step 1) and is made at
        // once: warm-up, not charged. The second, estimated at 0, comes at its due step (5); the third waits until the
        // sensor's share has paid for the second and for the estimate of the third (0.0225·T ≥ 2 × the read: T = 4.4 ms,
        // then due at step 10; T = 26.7 ms), then reads keep their pace.
        Assert.Equal([1, 5], target.ReadSteps.Take(2));
        Assert.InRange(target.ReadSteps[2], thirdRead, thirdRead + 1);
        var gaps = target.ReadSteps.Skip(2).Zip(target.ReadSteps.Skip(3), (a, b) => b - a).ToArray();
        Assert.InRange(gaps.Max(), gap, gap + 1);
        Assert.Equal(target.ReadSteps.Count, cost.SensorReads);
        Assert.Equal(Math.Max(gaps.Max(), target.ReadSteps[2] - target.ReadSteps[1]), cost.MaxSensorGap);
        Assert.Equal((target.ReadSteps.Count - 1) * readMilliseconds / 1000, cost.SensorSeconds, 12);
        Assert.Equal(readMilliseconds / 1000, cost.OneOffSeconds, 12);
    }

    [Fact]
    public void ASlowFirstCallAndFirstSensorReadAreWarmUpAndDoNotDelayLaterReads()
    {
        // In a fresh process the first call and the first read compile the monitor's code: here the first OnStep costs
        // 25 ms (a handler of the alert it raises) and the first read 30 ms, later ones 0.05 ms, against 1 ms steps.
        // Charged, those 55 ms would hold every read until 0.045·T ≥ 0.055 (T = 1.22 s, past this run's 1,000 steps).
        // As warm-up they are reported apart, and the reads come at every due step from step 5.
        var time = new ManualTime();
        int reads = 0;
        var target = new SensingTarget(new FakeTarget([4, 3, 2, 1]), () => time.Advance(TimeSpan.FromMilliseconds(reads++ == 0 ? 30 : 0.05)));
        var options = new StabilityMonitorOptions { RunName = "budget-warmup", FirstProbeStep = 1_000_000 };
        using var monitor = StabilityMonitor.Create(target, options, timeProvider: time);
        bool handled = false;
        monitor.AlertRaised += (_, _) =>
        {
            if (!handled)
            {
                handled = true;
                time.Advance(TimeSpan.FromMilliseconds(25));
            }
        };
        for (long step = 0; step < 1000; step++)
        {
            time.Advance(Step);
            monitor.OnStep(step, step == 0 ? double.NaN : 1.0);
        }

        var cost = monitor.Cost;
        Assert.True(handled);
        Assert.Equal(1, target.ReadSteps[0]);
        Assert.Equal(Enumerable.Range(1, 199).Select(k => 5L * k), target.ReadSteps.Skip(1));
        Assert.Equal(0.055, cost.OneOffSeconds, 12);
        Assert.Equal(199 * 0.05e-3, cost.SensorSeconds, 12);
        Assert.Equal(cost.SensorSeconds, cost.MonitorSeconds, 12);
        Assert.True(cost.Overhead < 0.045, cost.ToString());
    }

    [Fact]
    public void ALateOneOffDoesNotHoldTheSensor()
    {
        // A rule's first alert at step 500 costs 30 ms (its handler here; in a real run the first time that path runs),
        // more than the 22.5 ms the whole budget allows by then. Charged, it would hold every read until
        // 0.045·T ≥ 0.03 + the reads (T ≈ 0.69 s). As an outlier against the calls' own work (0 on this clock) it is
        // one-off, and the reads keep their pace.
        var time = new ManualTime();
        var target = new SensingTarget(new FakeTarget([4, 3, 2, 1]), () => time.Advance(TimeSpan.FromMilliseconds(0.05)));
        using var monitor = StabilityMonitor.Create(target, new StabilityMonitorOptions { RunName = "budget-late-one-off", FirstProbeStep = 1_000_000 }, timeProvider: time);
        monitor.AlertRaised += (_, _) => time.Advance(TimeSpan.FromMilliseconds(30));
        for (long step = 0; step < 1000; step++)
        {
            time.Advance(Step);
            monitor.OnStep(step, step == 500 ? double.NaN : 1.0);
        }

        Assert.Equal(Enumerable.Range(1, 199).Select(k => 5L * k), target.ReadSteps.Skip(1));
        Assert.Equal(0.030 + 0.05e-3, monitor.Cost.OneOffSeconds, 12); // the alert and the first read
        Assert.Equal(199 * 0.05e-3, monitor.Cost.MonitorSeconds, 12);
    }

    [Fact]
    public void AProbeThatOverrunsItsEstimateDelaysTheNextProbesNotTheSensor()
    {
        // Probes of 200 ms against the cold estimate of 54 ms, sensor reads of 0.05 ms every 5 steps (0.01 ms per 1 ms
        // step), 1 ms steps. The first probe runs when 0.054 + 1e-5·n ≤ 4.5e-5·n (step 1543) and overruns the budget by
        // 146 ms; the probes wait for the training time to pay it back (the second at 0.4 + 1e-5·n ≤ 4.5e-5·n, step
        // 11429), and the sensor keeps its pace throughout: its share is its own.
        var time = new ManualTime();
        var inner = new FakeTarget([4, 3, 2, 1]);
        inner.OnBeginProbe = () => time.Advance(TimeSpan.FromMilliseconds(200));
        var target = new SensingTarget(inner, () => time.Advance(TimeSpan.FromMilliseconds(0.05)));
        using var monitor = StabilityMonitor.Create(target, new StabilityMonitorOptions { RunName = "budget-overrun" }, timeProvider: time);
        var probeSteps = new List<long>();
        monitor.ProbeCompleted += (_, probe) => probeSteps.Add(probe.Step);
        for (long step = 0; step < 12_000; step++)
        {
            time.Advance(Step);
            monitor.OnStep(step, 1.0);
            var cost = monitor.Cost;
            Assert.True(cost.MonitorSeconds - cost.ProbeSeconds <= (0.045 * cost.TrainingSeconds) + 1e-12, $"step {step}: {cost}");
            Assert.True(cost.MonitorSeconds <= (0.045 * cost.TrainingSeconds) + 0.146 + 1e-12, $"step {step}: {cost}");
        }

        Assert.Equal(2, probeSteps.Count);
        Assert.InRange(probeSteps[0], 1542, 1544);
        Assert.InRange(probeSteps[1], 11427, 11431);
        Assert.Equal(Enumerable.Range(1, 2399).Select(k => 5L * k), target.ReadSteps.Skip(1));
    }

    [Fact]
    public void AtTheDefaultsTheStepStatisticsAreReadAtEveryStepAndTheSensorIsDueEveryFifthStep()
    {
        // The loss and gradient-norm statistics are read at every OnStep, whatever the budget defers: a non-finite
        // loss raises the Critical alert at its own step, even on a monitor whose sensor and probes cost far more
        // than the budget allows at that point.
        var defaults = new StabilityMonitorOptions();
        Assert.Equal(5, defaults.StepSensorInterval);
        Assert.Equal(0.05, defaults.OverheadBudget);
        var time = new ManualTime();
        var target = new SensingTarget(new FakeTarget([4, 3, 2, 1]), () => time.Advance(TimeSpan.FromMilliseconds(5)));
        using var monitor = StabilityMonitor.Create(target, defaults with { RunName = "budget-statistics" }, timeProvider: time);
        var raised = new List<long>();
        monitor.AlertRaised += (_, alert) => raised.Add(alert.Step);
        long[] nonFinite = [3, 11, 12, 497, 1999];
        for (long step = 0; step < 2000; step++)
        {
            time.Advance(Step);
            monitor.OnStep(step, nonFinite.Contains(step) ? double.NaN : 1.0, gradientNorm: 1.0);
        }

        Assert.Equal([3, 11, 497, 1999], raised); // 12 continues the episode begun at 11
        Assert.Equal(2000, monitor.Cost.Steps);
        // Each 5 ms read is estimated at one 1 ms step (the cap), the first charged one at 0, so the sensor's share is
        // overrun by at most 5 ms. The first read is warm-up, not charged; the second, with no read before it to compare
        // with, is charged at most one training step (1 ms; 4 ms one-off); the later ones, like the recent reads, in full.
        Assert.True(monitor.Cost.SensorSeconds <= (0.0225 * monitor.Cost.TrainingSeconds) + 0.005 + 1e-12);
        Assert.InRange(monitor.Cost.SensorReads, 5, (2000 * 0.0225 / 5) + 2);
        Assert.Equal(0.009, monitor.Cost.OneOffSeconds, 12);
        Assert.Equal(0.001 + ((monitor.Cost.SensorReads - 2) * 0.005), monitor.Cost.SensorSeconds, 12);
    }

    [Fact]
    public void AnOverheadBudgetOfOneKeepsTheNominalSchedule()
    {
        var time = new ManualTime();
        var target = new FakeTarget([4, 3, 2, 1]);
        target.OnBeginProbe = () => time.Advance(TimeSpan.FromMilliseconds(30));
        using var monitor = StabilityMonitor.Create(target, new StabilityMonitorOptions { RunName = "budget-off", OverheadBudget = 1, BringForwardOnTrend = false }, timeProvider: time);
        var probeSteps = new List<long>();
        monitor.ProbeCompleted += (_, probe) => probeSteps.Add(probe.Step);
        for (long step = 0; step < 100; step++)
        {
            time.Advance(Step);
            monitor.OnStep(step, 1.0);
        }

        Assert.Equal([10, 35, 60, 85], probeSteps);
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

    [Fact]
    public void TheProbeEstimateIsTheColdStepMultipleThenThePreviousProbe()
    {
        var scheduler = new ProbeScheduler(new StabilityMonitorOptions());
        Assert.Equal(0, scheduler.ProbeEstimate); // no step timed: nothing to estimate from
        scheduler.RecordStep(0.002);
        Assert.Equal(54, scheduler.ColdProbeSteps); // 3 steps per HVP × (KrylovDimension 16 + 2)
        Assert.Equal(54 * 0.002, scheduler.ProbeEstimate, 15);
        scheduler.Completed(10, 0.05, succeeded: true, trendingUp: false);
        Assert.Equal(0.05, scheduler.ProbeEstimate);
    }
}
