using SpectralMonitor.Probing;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

/// <summary>
/// The step sensor follows <see cref="StabilityMonitor.Rebind{TVec}"/> (it used to keep reading the replaced target,
/// whose optimizer no longer steps), and the monitor hands it the step's loss.
/// </summary>
public class StepSensorRebindTests
{
    [Fact]
    public void AfterARebindTheNewTargetIsReadAndTheOldOneNeverAgain()
    {
        var first = new RecordingSensor(new FakeTarget([4, 3, 2, 1]));
        var second = new RecordingSensor(new FakeTarget([4, 3, 2, 1]));
        var options = new StabilityMonitorOptions { RunName = "sensor-rebind", FirstProbeStep = 1_000_000, OverheadBudget = 1, StepSensorInterval = 1, Rules = [] };
        using var monitor = StabilityMonitor.Create(first, options);
        for (long step = 0; step < 10; step++)
        {
            monitor.OnStep(step, 1.0 + step);
        }

        monitor.Rebind(second);
        for (long step = 10; step < 20; step++)
        {
            monitor.OnStep(step, 1.0 + step);
        }

        Assert.Equal(Enumerable.Range(0, 10).Select(s => (long)s), first.Reads.Select(r => r.Step));
        Assert.Equal(Enumerable.Range(10, 10).Select(s => (long)s), second.Reads.Select(r => r.Step));

        // Each read got its own step's loss.
        Assert.All(first.Reads.Concat(second.Reads), r => Assert.Equal(1.0 + r.Step, r.Loss));
    }

    [Fact]
    public void ASensorThatIgnoresTheLossIsReadThroughTheOldOverload()
    {
        var sensor = new LossBlindSensor(new FakeTarget([4, 3, 2, 1]));
        var options = new StabilityMonitorOptions { RunName = "sensor-old-overload", FirstProbeStep = 1_000_000, OverheadBudget = 1, StepSensorInterval = 1, Rules = [] };
        using var monitor = StabilityMonitor.Create(sensor, options);
        for (long step = 0; step < 5; step++)
        {
            monitor.OnStep(step, 2.0);
        }

        Assert.Equal([0L, 1, 2, 3, 4], sensor.Steps);
    }

    private sealed class RecordingSensor(FakeTarget inner) : IProbeTarget<double[]>, IStepSensor
    {
        public List<(long Step, double Loss)> Reads { get; } = [];

        public string OptimizerName => inner.OptimizerName;

        public ILearningRateController? LearningRates => inner.LearningRates;

        public IReadOnlyList<string> SensorIndicators => [Indicators.UpdateToWeight];

        public IProbeContext<double[]> BeginProbe(CancellationToken cancellationToken) => ((IProbeTarget<double[]>)inner).BeginProbe(cancellationToken);

        public bool TryReadStep(long trainingStep, IDictionary<string, double> readings) => throw new InvalidOperationException("the monitor calls the overload with the loss");

        public bool TryReadStep(long trainingStep, double loss, IDictionary<string, double> readings)
        {
            Reads.Add((trainingStep, loss));
            readings[Indicators.UpdateToWeight] = 0.01;
            return true;
        }
    }

    private sealed class LossBlindSensor(FakeTarget inner) : IProbeTarget<double[]>, IStepSensor
    {
        public List<long> Steps { get; } = [];

        public string OptimizerName => inner.OptimizerName;

        public ILearningRateController? LearningRates => inner.LearningRates;

        public IReadOnlyList<string> SensorIndicators => [Indicators.UpdateToWeight];

        public IProbeContext<double[]> BeginProbe(CancellationToken cancellationToken) => ((IProbeTarget<double[]>)inner).BeginProbe(cancellationToken);

        public bool TryReadStep(long trainingStep, IDictionary<string, double> readings)
        {
            Steps.Add(trainingStep);
            readings[Indicators.UpdateToWeight] = 0.01;
            return true;
        }
    }
}
