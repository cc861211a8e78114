namespace SpectralMonitor.Probing;

/// <summary>
/// Maps the step numbers the loop reports to one increasing position, so that the schedule and every cooldown keep
/// working whatever the numbering does. The first step is position 0; a step after the previous one advances by the
/// difference (gaps in the numbering count, as before); a step that restarts, goes backwards or repeats starts a new
/// segment and advances by one (it is the next step of training, whatever its number). Positions saturate at
/// <see cref="long.MaxValue"/> instead of overflowing; so do conversions back to step numbers. Used on the training
/// thread only.
/// </summary>
internal sealed class StepTimeline
{
    private long _lastStep;

    /// <summary>Whether a step has been reported.</summary>
    public bool Started { get; private set; }

    /// <summary>The position of the latest step (0 before the first).</summary>
    public long Position { get; private set; }

    /// <summary>The latest step number reported.</summary>
    public long LastStep => _lastStep;

    /// <summary>Segments started by a restart, backward jump or repeat of the numbering.</summary>
    public int Restarts { get; private set; }

    /// <summary>Advances to <paramref name="step"/>.</summary>
    /// <returns>Whether it starts a new segment (the numbering restarted, went back or repeated).</returns>
    public bool Advance(long step)
    {
        if (!Started)
        {
            Started = true;
            _lastStep = step;
            Position = 0;
            return false;
        }

        bool restart = step <= _lastStep;
        Int128 delta = restart ? 1 : (Int128)step - _lastStep;
        Position = Saturate(Position + delta);
        _lastStep = step;
        if (restart)
        {
            Restarts++;
        }

        return restart;
    }

    /// <summary>The step number that <paramref name="position"/> has in the current segment's numbering (saturated).</summary>
    public long ToStep(long position) => Saturate((Int128)_lastStep + position - Position);

    /// <summary><paramref name="value"/> clamped to the range of <see cref="long"/>.</summary>
    public static long Saturate(Int128 value) => value > long.MaxValue ? long.MaxValue : value < long.MinValue ? long.MinValue : (long)value;
}
