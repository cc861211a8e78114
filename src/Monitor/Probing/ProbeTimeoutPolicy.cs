namespace SpectralMonitor.Probing;

/// <summary>
/// The wall-clock limit of the next probe. A fixed <see cref="StabilityMonitorOptions.ProbeTimeout"/> is used as given;
/// when it is null (the default) the limit is derived from measured costs, so that it grows with the model instead of
/// turning every probe of a big model into a timeout:
/// <list type="bullet">
/// <item>after a successful probe with at least one Hessian-vector product: <c>3 × (MaxHvpsPerProbe + 2) × t_HVP</c>,
/// where <c>t_HVP</c> is the largest of the last probes' durations per HVP (graph build and orchestration included, so
/// it overestimates the HVP alone). A probe can never need more than <c>MaxHvpsPerProbe</c> HVPs plus the graph build
/// (about two more), so the factor 3 leaves room for a machine that slows down threefold;</item>
/// <item>before any such probe: <c>3 × (MaxHvpsPerProbe + 2) × 3 t_step</c> from the measured training step time (an
/// HVP costs two to three backward passes), and 10 minutes when no step has been timed yet;</item>
/// </list>
/// clamped to <c>[30 s, 1 h]</c>: 30 s was the fixed default before, so small models, whose cold first probe is
/// dominated by one-time costs (JIT, libtorch initialisation), keep it, and only models whose HVPs are slow get more.
/// </summary>
internal sealed class ProbeTimeoutPolicy
{
    /// <summary>Factor between the longest plausible probe and the limit.</summary>
    internal const double SafetyFactor = 3;

    /// <summary>HVPs an untimed step is assumed to cost, per training step time.</summary>
    internal const double StepsPerHvp = 3;

    /// <summary>Probes whose per-HVP time is remembered.</summary>
    internal const int Window = 5;

    internal static readonly TimeSpan Minimum = TimeSpan.FromSeconds(30);
    internal static readonly TimeSpan Maximum = TimeSpan.FromHours(1);
    internal static readonly TimeSpan Untimed = TimeSpan.FromMinutes(10);

    private readonly StabilityMonitorOptions _options;
    private readonly Queue<double> _secondsPerHvp = new();

    public ProbeTimeoutPolicy(StabilityMonitorOptions options) => _options = options;

    /// <summary>The limit for the next probe, given the current training step time (NaN when unknown).</summary>
    /// <param name="stepSeconds">The training time per step (probes excluded), NaN before any step was timed.</param>
    public TimeSpan Next(double stepSeconds)
    {
        if (_options.ProbeTimeout is { } fixedLimit)
        {
            return fixedLimit;
        }

        double perHvp;
        if (_secondsPerHvp.Count > 0)
        {
            perHvp = _secondsPerHvp.Max();
        }
        else if (stepSeconds > 0 && double.IsFinite(stepSeconds))
        {
            perHvp = StepsPerHvp * stepSeconds;
        }
        else
        {
            return Untimed;
        }

        double seconds = SafetyFactor * (_options.MaxHvpsPerProbe + 2) * perHvp;
        return TimeSpan.FromSeconds(Math.Clamp(seconds, Minimum.TotalSeconds, Maximum.TotalSeconds));
    }

    /// <summary>Records a finished probe (only successful probes with HVPs inform the limit).</summary>
    /// <param name="probe">The probe.</param>
    public void Record(ProbeResult probe)
    {
        if (probe.Status != ProbeStatus.Succeeded || probe.HvpCount <= 0)
        {
            return;
        }

        double perHvp = probe.Duration.TotalSeconds / probe.HvpCount;
        if (!(perHvp > 0) || !double.IsFinite(perHvp))
        {
            return;
        }

        _secondsPerHvp.Enqueue(perHvp);
        while (_secondsPerHvp.Count > Window)
        {
            _secondsPerHvp.Dequeue();
        }
    }
}
