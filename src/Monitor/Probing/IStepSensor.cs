namespace SpectralMonitor.Probing;

/// <summary>
/// A cheap step-level sensor a probe target may also implement: read between optimizer steps every
/// <see cref="StabilityMonitorOptions.StepSensorInterval"/> steps, at about the cost of a few dot products over the
/// parameters (no Hessian-vector product). Its readings join the step's indicators: alert rules see them, and the
/// monitor exports them as gauges (<c>stability.&lt;indicator&gt;</c>).
/// </summary>
public interface IStepSensor
{
    /// <summary>The indicators this sensor can report (a subset of <see cref="Indicators.StepSensor"/>).</summary>
    IReadOnlyList<string> SensorIndicators { get; }

    /// <summary>Reads the sensor after the step's update; returns false (and writes nothing) when there is nothing to read yet.</summary>
    /// <param name="trainingStep">The step just taken.</param>
    /// <param name="readings">Where the readings go, keyed by indicator name.</param>
    bool TryReadStep(long trainingStep, IDictionary<string, double> readings);
}
