namespace SpectralMonitor.Probing;

/// <summary>
/// Decides when the next probe runs: every <see cref="StabilityMonitorOptions.ProbeInterval"/> steps, stretched so that
/// the probes' CUMULATIVE time stays under <see cref="StabilityMonitorOptions.OverheadBudget"/> of the run's time (so a
/// costly cold first probe is paid back before the next one), halved once when an indicator trends up (a bounded,
/// temporary overrun of the budget), doubled per consecutive failure (at most 64×). It counts in
/// <see cref="StepTimeline"/> positions, which only increase, so restarts of the loop's numbering do not stall it;
/// positions saturate at <see cref="long.MaxValue"/>.
/// </summary>
internal sealed class ProbeScheduler
{
    private readonly StabilityMonitorOptions _options;
    private double _stepSeconds = double.NaN;
    private double _probeSeconds;
    private double _totalProbeSeconds;
    private double _totalStepSeconds;
    private int _consecutiveFailures;
    private bool _completedAny;

    public ProbeScheduler(StabilityMonitorOptions options)
    {
        _options = options;
        NextProbeStep = options.FirstProbeStep;
        Interval = options.ProbeInterval;
    }

    /// <summary>The timeline position at or after which the next probe runs (before the first step: <see cref="StabilityMonitorOptions.FirstProbeStep"/>).</summary>
    public long NextProbeStep { get; private set; }

    /// <summary>The interval in force.</summary>
    public int Interval { get; private set; }

    /// <summary>EMA of the training time per step (seconds, probes excluded).</summary>
    public double StepSeconds => _stepSeconds;

    /// <summary>Records the training time of one step (probe time excluded).</summary>
    public void RecordStep(double seconds)
    {
        if (seconds > 0 && double.IsFinite(seconds))
        {
            _totalStepSeconds += seconds;
            _stepSeconds = double.IsNaN(_stepSeconds) ? seconds : (0.9 * _stepSeconds) + (0.1 * seconds);
        }
    }

    /// <summary>
    /// Places the first probe when the first step (number <paramref name="firstStep"/>, position 0) arrives: at the
    /// position where the numbering reaches <see cref="StabilityMonitorOptions.FirstProbeStep"/>, at once when it is
    /// already past it (a resumed run). A probe run before the first step (<c>ProbeNow</c>) has scheduled the next one already.
    /// </summary>
    public void Start(long firstStep)
    {
        if (!_completedAny)
        {
            NextProbeStep = StepTimeline.Saturate(Int128.Max(0, (Int128)_options.FirstProbeStep - firstStep));
        }
    }

    /// <summary>Whether a probe is due at timeline position <paramref name="position"/>.</summary>
    public bool IsDue(long position) => position >= NextProbeStep;

    /// <summary>Schedules the next probe after one that ran at timeline position <paramref name="position"/>.</summary>
    /// <returns>True when the interval widened because of repeated failures.</returns>
    public bool Completed(long position, double probeSeconds, bool succeeded, bool trendingUp)
    {
        if (double.IsFinite(probeSeconds) && probeSeconds > 0)
        {
            _probeSeconds = probeSeconds;
            _totalProbeSeconds += probeSeconds;
        }

        _completedAny = true;
        _consecutiveFailures = succeeded ? 0 : _consecutiveFailures + 1;

        double interval = _options.ProbeInterval;
        if (_options.OverheadBudget < 1 && _stepSeconds > 0 && _probeSeconds > 0)
        {
            // All probe time, the next probe's (predicted by the last) included, over all time ≤ budget:
            // (P + p) ≤ b·(S + T + P + p)  ⇔  T ≥ (P + p)(1 − b)/b − S, with T the training time until the next probe.
            double b = _options.OverheadBudget;
            double trainingNeeded = ((_totalProbeSeconds + _probeSeconds) * (1 - b) / b) - _totalStepSeconds;
            interval = Math.Max(interval, Math.Ceiling(trainingNeeded / _stepSeconds));
        }

        interval = Math.Min(interval, _options.MaxProbeInterval);
        if (trendingUp && _options.BringForwardOnTrend && succeeded)
        {
            interval = Math.Max(1, Math.Floor(interval / 2));
        }

        bool widened = _consecutiveFailures > 1;
        if (_consecutiveFailures > 0)
        {
            interval = Math.Min(_options.MaxProbeInterval, interval * Math.Pow(2, Math.Min(_consecutiveFailures, 6)));
        }

        Interval = (int)Math.Max(1, interval);
        NextProbeStep = StepTimeline.Saturate((Int128)position + Interval);
        return widened;
    }

    /// <summary>Whether an edge indicator rose by more than 5% since the previous successful probe (then the next probe comes sooner).</summary>
    public static bool IsTrendingUp(ProbeResult? previous, ProbeResult current)
    {
        if (previous is null)
        {
            return false;
        }

        foreach (var name in new[] { Indicators.SharpnessToEdge, Indicators.OscillatoryRadius, Indicators.TopEigenvectorCondition })
        {
            if (previous.Indicators.TryGetValue(name, out double before) && current.Indicators.TryGetValue(name, out double now) && before > 0 && now > before * 1.05)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Moves the next probe to timeline position <paramref name="position"/> at the latest.</summary>
    public void BringForward(long position) => NextProbeStep = Math.Min(NextProbeStep, position);
}
