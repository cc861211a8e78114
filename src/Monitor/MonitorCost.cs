namespace SpectralMonitor;

/// <summary>
/// What a <see cref="StabilityMonitor"/> has cost the training thread so far, on the monitor's clock. Every call into
/// the monitor (<see cref="StabilityMonitor.OnStep"/>, <see cref="StabilityMonitor.BeforeUpdate"/>,
/// <see cref="StabilityMonitor.ProbeNow"/>) counts as monitor time from its entry to its exit (step statistics, rules,
/// step-sensor reads, probes, event handlers); the time between the exit of one call and the entry of the next counts
/// as training time. <see cref="StabilityMonitorOptions.OverheadBudget"/> bounds <see cref="Overhead"/>.
/// <para>
/// One-off time (<see cref="OneOffSeconds"/>) is reported apart and not charged. Warm-up: the monitor's creation, its
/// first <c>OnStep</c> and <c>BeforeUpdate</c> calls and its first step-sensor read, which in a fresh process run the
/// monitor's code for the first time (most of their tens of milliseconds is the runtime compiling it). Outliers: the
/// part of a sensor read, of its preparation, or of a call's own work beyond four times the median of the recent ones
/// (a path met for the first time later, such as a rule's first alert; a garbage collection; the thread paused), which
/// otherwise held the sensor for hundreds of steps of a small model. A cost that stays high moves the medians and is
/// charged within a few reads or calls. Probes are charged in full, the first included.
/// </para>
/// </summary>
/// <param name="TrainingSeconds">Training time: the time between the monitor's calls.</param>
/// <param name="MonitorSeconds">Time inside the monitor's calls, everything but one-off time included.</param>
/// <param name="ProbeSeconds">The part of <paramref name="MonitorSeconds"/> spent in probes.</param>
/// <param name="SensorSeconds">The part of <paramref name="MonitorSeconds"/> spent reading the step sensor (one-off time not included).</param>
/// <param name="Steps">Steps reported (<see cref="StabilityMonitor.OnStep"/> calls); the loss and gradient-norm statistics are read at every one.</param>
/// <param name="SensorReads">Step-sensor reads.</param>
/// <param name="MaxSensorGap">The largest number of steps between consecutive step-sensor reads (the wait before the first read not included); 0 before the second read.</param>
public sealed record MonitorCost(
    double TrainingSeconds,
    double MonitorSeconds,
    double ProbeSeconds,
    double SensorSeconds,
    long Steps,
    long SensorReads,
    long MaxSensorGap)
{
    /// <summary>
    /// One-off seconds on the training thread: warm-up (the monitor's creation, its first call of each kind, its first
    /// step-sensor read) and outliers (beyond four times the recent median), reported apart and not charged to the
    /// budget. Neither in <see cref="MonitorSeconds"/> nor in <see cref="Overhead"/>.
    /// </summary>
    public double OneOffSeconds { get; init; }

    /// <summary>Monitor time over training time: what the run monitored costs over the run unmonitored, less one, one-off time not included (NaN before any training time).</summary>
    public double Overhead => TrainingSeconds > 0 ? MonitorSeconds / TrainingSeconds : double.NaN;
}
