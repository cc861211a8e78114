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

    /// <summary>
    /// Reads the sensor after the step's update, knowing the step's training loss (the loss at the parameters before
    /// the update, as reported to <see cref="StabilityMonitor.OnStep"/>); the monitor calls this one. The default ignores
    /// the loss and calls <see cref="TryReadStep(long, IDictionary{string, double})"/>.
    /// </summary>
    /// <param name="trainingStep">The step just taken.</param>
    /// <param name="loss">The step's training loss.</param>
    /// <param name="readings">Where the readings go, keyed by indicator name.</param>
    bool TryReadStep(long trainingStep, double loss, IDictionary<string, double> readings) => TryReadStep(trainingStep, readings);

    /// <summary>
    /// True when the sensor must be armed a step ahead of a read: it captures from the training forward pass (forward
    /// hooks) or keeps something from before the update (a copy of the parameters). The monitor then reads it only
    /// after a step it prepared with <see cref="PrepareRead"/>. The default is false: the sensor reads state the step
    /// left behind (the optimizer's), and is read at any due step the budget can pay for.
    /// </summary>
    bool CapturesTrainingForward => false;

    /// <summary>
    /// Called after a step when the monitor expects to read the sensor after the next step (the read is due and the
    /// budget can pay for it), so that a sensor that captures from the training forward pass (forward hooks) can arm
    /// itself for that forward, or one that needs the state before the update can keep it, and cost nothing on the
    /// other steps. The default does nothing.
    /// </summary>
    void PrepareRead()
    {
    }

    /// <summary>
    /// Seconds the sensor spent on the training thread outside <see cref="TryReadStep(long, double, IDictionary{string, double})"/> since the previous call (inside
    /// forward hooks, for example). The monitor charges them to the sensor, not to training. The default is 0.
    /// </summary>
    double TakeOutsideSeconds() => 0;
}
