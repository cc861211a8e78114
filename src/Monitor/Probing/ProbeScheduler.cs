namespace SpectralMonitor.Probing;

/// <summary>
/// Decides when the next probe runs: its nominal step (every <see cref="StabilityMonitorOptions.ProbeInterval"/> steps
/// after <see cref="StabilityMonitorOptions.FirstProbeStep"/>, halved once when an indicator trends up, doubled per
/// consecutive failure up to 64× and <see cref="StabilityMonitorOptions.MaxProbeInterval"/>), and then the first step
/// at or after it at which the <see cref="CostLedger"/> can pay for the probe within
/// <see cref="StabilityMonitorOptions.OverheadBudget"/>: all monitor time so far plus the probe's estimated cost at
/// most the budget times the training time so far. The estimate is the previous probe's duration; before the first
/// probe, <see cref="ColdProbeSteps"/> training steps (54 at the defaults, from the measured step time). It counts in <see cref="StepTimeline"/>
/// positions, which only increase, so restarts of the loop's numbering do not stall it; positions saturate at
/// <see cref="long.MaxValue"/>.
/// </summary>
internal sealed class ProbeScheduler
{
    /// <summary>
    /// The estimated cost of the first probe, in training steps: a cold probe runs up to <c>KrylovDimension</c> + 2
    /// Hessian-vector products (the Lanczos basis and the probe's graph build; 18 at the defaults) of about
    /// <see cref="ProbeTimeoutPolicy.StepsPerHvp"/> training steps each (an HVP is a double backward on the probe batch):
    /// 54 steps at the defaults. On the benchmark's digits models and small GPT probes measured less (benchmarks/RESULTS.md,
    /// "Overhead"); a 10⁶-parameter MLP with a probe batch eight times its training batch measured about 230. An
    /// overestimate only delays the first probe; an underestimate overruns the budget by the difference once, and no
    /// other probe runs until the training time has paid it back.
    /// </summary>
    public double ColdProbeSteps => ProbeTimeoutPolicy.StepsPerHvp * (_options.KrylovDimension + 2);

    private readonly StabilityMonitorOptions _options;
    private double _stepSeconds = double.NaN;
    private double _probeSeconds = double.NaN;
    private int _consecutiveFailures;
    private bool _completedAny;

    public ProbeScheduler(StabilityMonitorOptions options)
    {
        _options = options;
        NextProbeStep = options.FirstProbeStep;
        Interval = options.ProbeInterval;
    }

    /// <summary>
    /// The timeline position at or after which the next probe runs when the budget can pay for it (before the first
    /// step: <see cref="StabilityMonitorOptions.FirstProbeStep"/>).
    /// </summary>
    public long NextProbeStep { get; private set; }

    /// <summary>The interval in force.</summary>
    public int Interval { get; private set; }

    /// <summary>EMA of the training time per step (seconds, monitor time excluded); NaN before a step was timed.</summary>
    public double StepSeconds => _stepSeconds;

    /// <summary>
    /// The estimated cost of the next probe (seconds): the previous probe's duration; before the first,
    /// <see cref="ColdProbeSteps"/> times the step time; 0 while no step has been timed.
    /// </summary>
    public double ProbeEstimate => _completedAny && !double.IsNaN(_probeSeconds) ? _probeSeconds
        : _stepSeconds > 0 ? ColdProbeSteps * _stepSeconds : 0;

    /// <summary>Records the training time of one step (monitor time excluded).</summary>
    public void RecordStep(double seconds)
    {
        if (seconds > 0 && double.IsFinite(seconds))
        {
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

    /// <summary>Whether a probe is due at timeline position <paramref name="position"/> and <paramref name="ledger"/> can pay for it.</summary>
    public bool IsDue(long position, CostLedger ledger) => position >= NextProbeStep && ledger.AffordsProbe(ProbeEstimate);

    /// <summary>Schedules the next probe after one that ran at timeline position <paramref name="position"/>.</summary>
    /// <returns>True when the interval widened because of repeated failures.</returns>
    public bool Completed(long position, double probeSeconds, bool succeeded, bool trendingUp)
    {
        if (double.IsFinite(probeSeconds) && probeSeconds >= 0)
        {
            _probeSeconds = probeSeconds;
        }

        _completedAny = true;
        _consecutiveFailures = succeeded ? 0 : _consecutiveFailures + 1;

        double interval = _options.ProbeInterval;
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
