using SpectralMonitor.Probing;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

/// <summary>
/// The cost ledger's accounting on a manual clock (100 ns ticks, so the sums are exact up to the double rounding of
/// tick counts converted to seconds, about 1e-16 relative; compared to 12 digits): what is monitor time, what is
/// training time, and what is warm-up, reported apart and not charged.
/// </summary>
public class CostLedgerTests
{
    private static TimeSpan Ms(double milliseconds) => TimeSpan.FromMilliseconds(milliseconds);

    [Fact]
    public void CreationAndAWarmUpCallAreReportedApartAndNotCharged()
    {
        var time = new ManualTime();
        var ledger = new CostLedger(time, 0.05);
        ledger.AddSetup(0.004);

        ledger.Enter();
        time.Advance(Ms(25));
        ledger.Exit(warmup: true);
        time.Advance(Ms(10)); // training
        ledger.Enter();
        time.Advance(Ms(2));
        ledger.Exit(); // a later call of the same kind: charged

        Assert.Equal(0.029, ledger.OneOffSeconds, 12);
        Assert.Equal(0.002, ledger.MonitorSeconds, 12);
        Assert.Equal(0.010, ledger.TrainingSeconds, 12);
    }

    [Fact]
    public void AWarmUpCallStillChargesTheProbesAndChargedReadsInIt()
    {
        var time = new ManualTime();
        var ledger = new CostLedger(time, 0.05);
        ledger.Enter();
        time.Advance(Ms(3));
        time.Advance(Ms(40));
        ledger.AddProbe(0.040);
        time.Advance(Ms(1));
        ledger.AddSensor(0.001);
        time.Advance(Ms(2));
        ledger.Exit(warmup: true);

        // 46 ms in the call: 41 of probe and read, charged; the 5 ms around them, warm-up.
        Assert.Equal(0.041, ledger.MonitorSeconds, 12);
        Assert.Equal(0.005, ledger.OneOffSeconds, 12);
        Assert.Equal(0.040, ledger.ProbeSeconds, 12);
        Assert.Equal(0.001, ledger.SensorSeconds, 12);
    }

    [Fact]
    public void AWarmUpReadIsNeitherChargedNorSeenByTheSensorsShareOrEstimate()
    {
        var time = new ManualTime();
        var ledger = new CostLedger(time, 0.05);
        ledger.Enter();
        ledger.Exit();
        time.Advance(Ms(100)); // training: the sensor's share is 0.0225 × 0.1 s = 2.25 ms

        ledger.Enter();
        time.Advance(Ms(1));
        time.Advance(Ms(30));
        ledger.AddSensor(0.030, outsideSeconds: 0.004, warmup: true);
        Assert.Equal(0.001, ledger.Spent, 12); // the call so far, its warm-up read not included
        time.Advance(Ms(1));
        ledger.Exit();

        Assert.Equal(0.034, ledger.OneOffSeconds, 12); // the read and its 4 ms outside the call (forward hooks)
        Assert.Equal(0.002, ledger.MonitorSeconds, 12);
        Assert.Equal(0, ledger.SensorSeconds);
        Assert.Equal(0.096, ledger.TrainingSeconds, 12); // the 4 ms outside moved out of training time
        Assert.Equal(0, ledger.SensorEstimate(0.001)); // no charged read yet
        Assert.True(ledger.AffordsSensor(0.002));

        // Charged, the same read would have left the sensor nothing for a long while.
        var charged = new CostLedger(time, 0.05);
        charged.Enter();
        charged.Exit();
        time.Advance(Ms(100));
        charged.Enter();
        time.Advance(Ms(30));
        charged.AddSensor(0.030);
        charged.Exit();
        Assert.False(charged.AffordsSensor(0));
    }

    [Fact]
    public void ProbeTimeDoesNotCountAgainstTheSensorButSensorTimeCountsAgainstProbes()
    {
        var time = new ManualTime();
        var ledger = new CostLedger(time, 0.05);
        ledger.Enter();
        ledger.Exit();
        time.Advance(Ms(1000)); // 45 ms usable, 22.5 of it the sensor's

        ledger.Enter();
        time.Advance(Ms(200));
        ledger.AddProbe(0.200); // overruns the usable 45 ms by 155 ms
        ledger.Exit();

        Assert.True(ledger.AffordsSensor(0.020)); // within its 22.5 ms share, and the non-probe time is 0
        Assert.False(ledger.AffordsSensor(0.023)); // beyond its share
        Assert.False(ledger.AffordsProbe(0)); // the probes wait until the overrun is paid back

        ledger.Enter();
        time.Advance(Ms(20));
        ledger.AddSensor(0.020);
        ledger.Exit();
        time.Advance(Ms(4000));
        ledger.Enter(); // usable 0.045 × 5 s = 225 ms: 220 spent
        Assert.True(ledger.AffordsProbe(0.004));
        Assert.False(ledger.AffordsProbe(0.006));
        ledger.Exit();
    }

    [Fact]
    public void AReadBeyondFourTimesTheRecentMedianIsChargedAtThatAndALastingRiseSoonInFull()
    {
        var time = new ManualTime();
        var ledger = new CostLedger(time, 0.05);
        Step(time, ledger, read: null);
        for (int i = 0; i < 5; i++)
        {
            Step(time, ledger, read: 1);
        }

        Assert.Equal(0.005, ledger.SensorSeconds, 12);
        Step(time, ledger, read: 20); // median of the recent reads 1 ms: charged 4, one-off 16
        Assert.Equal(0.009, ledger.SensorSeconds, 12);
        Assert.Equal(0.016, ledger.OneOffSeconds, 12);

        // Reads that stay at 10 ms: capped at 4 ms while the median is still 1 ms, in full once it is 10 ms.
        Step(time, ledger, read: 10); // recent 1, 1, 1, 1, 20: median 1
        Step(time, ledger, read: 10); // 1, 1, 1, 20, 10: median 1
        Step(time, ledger, read: 10); // 1, 1, 20, 10, 10: median 10
        Assert.Equal(0.009 + 0.004 + 0.004 + 0.010, ledger.SensorSeconds, 12);
        Assert.Equal(0.016 + 0.006 + 0.006, ledger.OneOffSeconds, 12);
        Assert.Equal(ledger.SensorSeconds, ledger.MonitorSeconds, 12);
    }

    [Fact]
    public void TheFirstChargedReadAndPreparationAreCappedAtOneTrainingStep()
    {
        var time = new ManualTime();
        var ledger = new CostLedger(time, 0.05);
        Step(time, ledger, read: null);
        ledger.Enter();
        time.Advance(Ms(3));
        ledger.AddSensorPreparation(0.003, stepSeconds: 0.001);
        ledger.Exit();
        Step(time, ledger, read: 7, stepSeconds: 0.001);
        Assert.Equal(0.002, ledger.SensorSeconds, 12);
        Assert.Equal(0.008, ledger.OneOffSeconds, 12);
        Assert.Equal(0.002, ledger.MonitorSeconds, 12);
    }

    [Fact]
    public void ACallsOwnWorkBeyondFourTimesTheRecentMedianIsOneOff()
    {
        var time = new ManualTime();
        var ledger = new CostLedger(time, 0.05);
        for (int i = 0; i < CostLedger.MinimumCalls; i++)
        {
            ledger.Enter();
            time.Advance(Ms(0.01));
            ledger.Exit();
            time.Advance(Ms(1));
        }

        ledger.Enter();
        time.Advance(Ms(5)); // an alert's first handler, a garbage collection: 4 × 0.01 ms charged
        ledger.Exit();

        Assert.Equal((CostLedger.MinimumCalls * 0.00001) + 0.00004, ledger.MonitorSeconds, 12);
        Assert.Equal(0.005 - 0.00004, ledger.OneOffSeconds, 12);
    }

    /// <summary>One 1 ms training step, then a call that reads the sensor for <paramref name="read"/> milliseconds (none: an empty call).</summary>
    private static void Step(ManualTime time, CostLedger ledger, double? read, double stepSeconds = double.NaN)
    {
        time.Advance(Ms(1));
        ledger.Enter();
        if (read is double milliseconds)
        {
            time.Advance(Ms(milliseconds));
            ledger.AddSensor(milliseconds / 1000, stepSeconds: stepSeconds);
        }

        ledger.Exit();
    }
}
