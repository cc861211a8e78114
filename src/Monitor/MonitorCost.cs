namespace SpectralMonitor;

/// <summary>
/// What a <see cref="StabilityMonitor"/> has cost the training thread so far, on the monitor's clock. Every call into
/// the monitor (<see cref="StabilityMonitor.OnStep"/>, <see cref="StabilityMonitor.BeforeUpdate"/>,
/// <see cref="StabilityMonitor.ProbeNow"/>) counts as monitor time from its entry to its exit (step statistics, rules,
/// step-sensor reads, probes, event handlers); the time between the exit of one call and the entry of the next counts
/// as training time. <see cref="StabilityMonitorOptions.OverheadBudget"/> bounds <see cref="Overhead"/>.
/// <para>
/// Warm-up (<see cref="WarmupSeconds"/>) is reported apart: the monitor's creation, its first <c>OnStep</c> and
/// <c>BeforeUpdate</c> calls and its first step-sensor read. In a fresh process they run the monitor's code for the first
/// time, and most of their tens of milliseconds is the runtime compiling it; they are neither in
/// <see cref="MonitorSeconds"/> nor charged to the budget, so that a one-off cost does not leave a short run unwatched.
/// Probes are charged in full, the first included.
/// </para>
/// </summary>
/// <param name="TrainingSeconds">Training time: the time between the monitor's calls.</param>
/// <param name="MonitorSeconds">Time inside the monitor's calls, everything but warm-up included.</param>
/// <param name="ProbeSeconds">The part of <paramref name="MonitorSeconds"/> spent in probes.</param>
/// <param name="SensorSeconds">The part of <paramref name="MonitorSeconds"/> spent reading the step sensor (its first read is warm-up).</param>
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
    /// Warm-up: the monitor's creation, its first call of each kind and its first step-sensor read (seconds on the
    /// training thread), reported apart and not charged to the budget. Neither in <see cref="MonitorSeconds"/> nor in
    /// <see cref="Overhead"/>.
    /// </summary>
    public double WarmupSeconds { get; init; }

    /// <summary>Monitor time over training time: what the run monitored costs over the run unmonitored, less one, warm-up not included (NaN before any training time).</summary>
    public double Overhead => TrainingSeconds > 0 ? MonitorSeconds / TrainingSeconds : double.NaN;
}
