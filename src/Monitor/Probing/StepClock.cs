namespace SpectralMonitor.Probing;

/// <summary>
/// The training-time clock of the probe scheduler: the wall time between consecutive steps, less the probe time spent
/// in between (so that probes do not count as training time). One instance per monitor, used on the training thread.
/// </summary>
internal sealed class StepClock(TimeProvider time)
{
    private long _lastStep;
    private double _probeSeconds;

    /// <summary>Marks a step; returns the training seconds since the previous one (probes excluded), or null for the first.</summary>
    public double? Tick()
    {
        long now = time.GetTimestamp();
        double? seconds = _lastStep == 0 ? null : time.GetElapsedTime(_lastStep, now).TotalSeconds - _probeSeconds;
        _lastStep = now;
        _probeSeconds = 0;
        return seconds;
    }

    /// <summary>Records probe time spent since the latest step.</summary>
    public void AddProbeTime(double seconds) => _probeSeconds += seconds;
}
