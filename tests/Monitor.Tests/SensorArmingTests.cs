using SpectralMonitor.Rules;
using SpectralMonitor.Probing;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

/// <summary>
/// A step sensor that captures from the training forward pass (forward hooks): the monitor arms it only for the forward
/// of a step it reads, re-arms it after a probe (whose forward passes would otherwise be captured instead), and charges
/// the time spent inside the hooks to the sensor, not to training. On a manual clock: 1 ms steps, 0.5 ms per capture.
/// </summary>
public class SensorArmingTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Capture = TimeSpan.FromMilliseconds(0.5);

    [Fact]
    public void EveryReadSeesItsOwnStepsTrainingForwardAndUnreadStepsCaptureNothing()
    {
        var time = new ManualTime();
        var inner = new FakeTarget([4, 3, 2, 1]);
        var sensor = new HookedSensor(inner, time);
        inner.OnBeginProbe = () => sensor.Forward(HookedSensor.ProbeForward); // the probe's forward runs through the hooks too
        var options = new StabilityMonitorOptions { RunName = "armed-sensor", ProbeInterval = 7, OverheadBudget = 1, Rules = [] };
        using var monitor = StabilityMonitor.Create(sensor, options, timeProvider: time);
        for (long step = 0; step < 100; step++)
        {
            time.Advance(Step);
            sensor.Forward(step);
            monitor.OnStep(step, 1.0);
        }

        Assert.True(monitor.ProbeCount >= 10, $"{monitor.ProbeCount} probes");
        // Reads every 5th step, decided (and the hooks armed) one step ahead: the read due at step 0 is deferred to step 1.
        // Each read is of its own step's training forward, never of a probe's (probes at steps 14, 49 and 84 ran while
        // the hooks were armed).
        Assert.Equal([1L, .. Enumerable.Range(1, 19).Select(k => 5L * k)], sensor.ReadSteps);
        Assert.Equal(sensor.ReadSteps, sensor.CapturedAtRead);
        Assert.Equal(3, sensor.ProbeCaptures);
        // One training capture per read (and one armed for step 100, never taken): unread steps cost nothing.
        Assert.Equal(20, sensor.TrainingCaptures);
        // The first read's capture is warm-up (reported apart, not charged).
        Assert.Equal(19 * Capture.TotalSeconds, monitor.Cost.SensorSeconds, 12);
        Assert.Equal(Capture.TotalSeconds, monitor.Cost.OneOffSeconds, 12);
    }

    [Fact]
    public void CaptureTimeCountsAgainstTheBudgetAndNotAsTrainingTime()
    {
        var time = new ManualTime();
        var sensor = new HookedSensor(new FakeTarget([4, 3, 2, 1]), time);
        var options = new StabilityMonitorOptions { RunName = "armed-sensor-budget", FirstProbeStep = 1_000_000, Rules = [] };
        using var monitor = StabilityMonitor.Create(sensor, options, timeProvider: time);
        for (long step = 0; step < 20_000; step++)
        {
            time.Advance(Step);
            sensor.Forward(step);
            monitor.OnStep(step, 1.0);
            var cost = monitor.Cost;

            // The sensor's share, 2.25% of the training time, overrun by at most one estimate (0.5 ms, a capture).
            Assert.True(cost.SensorSeconds <= (0.0225 * cost.TrainingSeconds) + 0.0005 + 1e-12, $"step {step}: {cost}");
        }

        var total = monitor.Cost;
        Assert.Equal((total.SensorReads - 1) * Capture.TotalSeconds, total.SensorSeconds, 12); // the first is warm-up
        Assert.Equal(Capture.TotalSeconds, total.OneOffSeconds, 12);
        Assert.Equal(total.SensorSeconds, total.MonitorSeconds, 12);
        // Training time is the 1 ms steps only (the first step's time is not seen): captures moved out of it.
        Assert.Equal(19_999 * Step.TotalSeconds, total.TrainingSeconds, 9);
        Assert.InRange(total.SensorReads, 850, 900); // 2.25% of 20 s at 0.5 ms a read: 900, less the wait for the first
    }

    [Fact]
    public void TheDefaultAttentionRuleWarnsWhenTheEntropyCollapsesAndClearsWhenItRecovers()
    {
        var time = new ManualTime();
        var sensor = new HookedSensor(new FakeTarget([4, 3, 2, 1]), time)
        {
            Entropy = step => step switch { < 20 => 1.0, < 30 => 0.005, < 40 => 0.0005, _ => 0.5 },
        };
        var options = new StabilityMonitorOptions { RunName = "attention-rule", FirstProbeStep = 1_000_000, OverheadBudget = 1, StepSensorInterval = 1 };
        Assert.Contains(DefaultRules.AttentionEntropyCollapse, options.Rules);
        using var monitor = StabilityMonitor.Create(sensor, options, timeProvider: time);
        var changes = new List<StabilityAlert>();
        monitor.AlertRaised += (_, alert) => changes.Add(alert);
        monitor.AlertLowered += (_, alert) => changes.Add(alert);
        for (long step = 0; step < 60; step++)
        {
            time.Advance(Step);
            sensor.Forward(step);
            monitor.OnStep(step, 1.0);
        }

        Assert.All(changes, c => Assert.Equal(DefaultRules.AttentionEntropyCollapse.Name, c.Rule));
        Assert.Equal(
            [(20L, AlertLevel.Warning), (30L, AlertLevel.Critical), (40L, AlertLevel.Ok)],
            changes.Select(c => (c.Step, c.Level)));
    }

    /// <summary>
    /// A sensor like TorchSharp's forward hooks: <see cref="Forward"/> captures the step of the first forward after
    /// <see cref="PrepareRead"/> (costing <see cref="Capture"/> on the clock), <see cref="TryReadStep"/> reports it and
    /// disarms.
    /// </summary>
    private sealed class HookedSensor(FakeTarget inner, ManualTime time) : IProbeTarget<double[]>, IStepSensor
    {
        public const long ProbeForward = -1;
        public const long Nothing = -2;
        private bool _armed;
        private long _captured = Nothing;
        private double _outside;

        public List<long> ReadSteps { get; } = [];

        public List<long> CapturedAtRead { get; } = [];

        public Func<long, double> Entropy { get; init; } = _ => 1.0;

        public int TrainingCaptures { get; private set; }

        public int ProbeCaptures { get; private set; }

        public string OptimizerName => inner.OptimizerName;

        public ILearningRateController? LearningRates => inner.LearningRates;

        public IReadOnlyList<string> SensorIndicators => [Indicators.AttentionEntropyMin];

        public bool CapturesTrainingForward => true;

        public IProbeContext<double[]> BeginProbe(CancellationToken cancellationToken) => ((IProbeTarget<double[]>)inner).BeginProbe(cancellationToken);

        public void Forward(long step)
        {
            if (_armed)
            {
                _armed = false;
                _captured = step;
                _ = step == ProbeForward ? ProbeCaptures++ : TrainingCaptures++;
                time.Advance(Capture);
                _outside += Capture.TotalSeconds;
            }
        }

        public void PrepareRead()
        {
            _armed = true;
            _captured = Nothing;
            _outside = 0; // a probe's forward, captured before a re-arm, is the probe's time
        }

        public double TakeOutsideSeconds()
        {
            double seconds = _outside;
            _outside = 0;
            return seconds;
        }

        public bool TryReadStep(long trainingStep, IDictionary<string, double> readings)
        {
            ReadSteps.Add(trainingStep);
            CapturedAtRead.Add(_captured);
            readings[Indicators.AttentionEntropyMin] = Entropy(trainingStep);
            _armed = false;
            _captured = Nothing;
            return true;
        }
    }
}
