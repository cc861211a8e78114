namespace SpectralMonitor.Rules;

/// <summary>How the baseline of an indicator is formed for <see cref="RuleComparison.RatioToBaseline"/> rules.</summary>
public enum BaselineKind
{
    /// <summary>The median of the first <see cref="StabilityMonitorOptions.BaselineProbes"/> observations, then fixed.</summary>
    Median,

    /// <summary>An exponentially weighted moving average (weight <see cref="StabilityMonitorOptions.BaselineEwmaAlpha"/> on the past).</summary>
    Ewma,
}

/// <summary>
/// Evaluates alert rules against indicator readings and keeps each rule's level with hysteresis and cooldown.
/// Not thread-safe: the monitor calls it from the training thread only.
/// </summary>
internal sealed class RuleEngine
{
    private readonly AlertRule[] _rules;
    private readonly RuleState[] _states;
    private readonly Dictionary<string, Baseline> _baselines = new(StringComparer.Ordinal);

    // The indicators some RatioToBaseline rule reads (Evaluate runs every step: no per-step search over the rules).
    private readonly HashSet<string> _baselineIndicators;
    private readonly BaselineKind _baselineKind;
    private readonly int _baselineCount;
    private readonly double _ewmaAlpha;

    // Whether each rule applies to the current optimizer (AlertRule.Optimizers), decided once per bind, not per step.
    private readonly bool[] _applies;

    public RuleEngine(IReadOnlyList<AlertRule> rules, BaselineKind baselineKind, int baselineCount, double ewmaAlpha, string optimizer)
    {
        _rules = [.. rules];
        _applies = [.. _rules.Select(r => r.AppliesTo(optimizer))];
        _states = [.. _rules.Select(NewState)];
        _baselineIndicators = new HashSet<string>(_rules.Where(r => r.Comparison == RuleComparison.RatioToBaseline).Select(r => r.Indicator), StringComparer.Ordinal);
        _baselineKind = baselineKind;
        _baselineCount = baselineCount;
        _ewmaAlpha = ewmaAlpha;
    }

    /// <summary>The highest current level over all rules.</summary>
    public AlertLevel Level => _states.Length == 0 ? AlertLevel.Ok : _states.Max(s => s.Level);

    /// <summary>The current level of each rule, by name.</summary>
    public IReadOnlyDictionary<string, AlertLevel> Levels => _rules.Select((r, i) => (r.Name, _states[i].Level)).ToDictionary(p => p.Name, p => p.Level, StringComparer.Ordinal);

    /// <summary>
    /// The optimizer changed (a rebind): rules that do not apply to <paramref name="optimizer"/> go back to Ok and
    /// forget their history (trend window, cooldown), raising no event, and are not evaluated until an optimizer they
    /// apply to is bound again.
    /// </summary>
    /// <param name="optimizer">The new optimizer's name.</param>
    public void SetOptimizer(string optimizer)
    {
        for (int i = 0; i < _rules.Length; i++)
        {
            _applies[i] = _rules[i].AppliesTo(optimizer);
            if (!_applies[i])
            {
                _states[i] = NewState(_rules[i]);
            }
        }
    }

    /// <summary>
    /// Evaluates the rules that apply to the current optimizer and whose indicator is present in
    /// <paramref name="readings"/> (NaN means "not measured" and is skipped) and returns every level change, raised first.
    /// </summary>
    /// <param name="step">The step number the alerts report.</param>
    /// <param name="readings">The indicator readings.</param>
    /// <param name="position">The step's position on the monitor's increasing timeline (cooldowns count in it); null: <paramref name="step"/>.</param>
    public IReadOnlyList<StabilityAlert> Evaluate(long step, IReadOnlyDictionary<string, double> readings, long? position = null)
    {
        List<StabilityAlert>? changes = null;
        for (int i = 0; i < _rules.Length; i++)
        {
            var rule = _rules[i];
            if (!_applies[i] || !readings.TryGetValue(rule.Indicator, out double value) || double.IsNaN(value))
            {
                continue;
            }

            double? compared = Compare(rule, _states[i], value, readings);
            _states[i].Record(value);
            if (compared is not double c || double.IsNaN(c) || (position ?? step) < rule.WarmupSteps)
            {
                continue;
            }

            var change = Transition(rule, _states[i], step, position ?? step, value, c, readings);
            if (change is not null)
            {
                (changes ??= []).Add(change);
            }
        }

        foreach (var (indicator, value) in readings)
        {
            if (double.IsFinite(value) && _baselineIndicators.Contains(indicator))
            {
                BaselineOf(indicator).Add(value);
            }
        }

        return changes is null ? [] : [.. changes.OrderByDescending(c => c.IsRaised)];
    }

    private double? Compare(AlertRule rule, RuleState state, double value, IReadOnlyDictionary<string, double> readings)
    {
        switch (rule.Comparison)
        {
            case RuleComparison.Absolute:
                return value;
            case RuleComparison.RatioToBaseline:
                double? baseline = _baselines.TryGetValue(rule.Indicator, out var b) ? b.Value : null;
                return baseline is double bv && bv != 0 && double.IsFinite(bv) ? value / bv : null;
            case RuleComparison.RatioToIndicator:
                return readings.TryGetValue(rule.Reference!, out double reference) && reference != 0 && double.IsFinite(reference) ? value / reference : null;
            case RuleComparison.Trend:
                double? earlier = state.Back(rule.TrendWindow);
                return earlier is double e && e != 0 && double.IsFinite(e) ? value / e : null;
            default:
                return null;
        }
    }

    private static StabilityAlert? Transition(AlertRule rule, RuleState state, long step, long position, double value, double compared, IReadOnlyDictionary<string, double> readings)
    {
        bool Beyond(double threshold, double slack)
        {
            // The clearing threshold sits a fraction `slack` back inside the firing threshold.
            double t = rule.Above ? threshold - (Math.Abs(threshold) * slack) : threshold + (Math.Abs(threshold) * slack);
            return rule.Above ? compared >= t : compared <= t;
        }

        // Raise to the highest level crossed; keep a level while the value has not come back past its hysteresis band.
        var target = Beyond(rule.Critical, 0) ? AlertLevel.Critical : Beyond(rule.Warning, 0) ? AlertLevel.Warning : AlertLevel.Ok;
        if (target < state.Level)
        {
            double hold = state.Level == AlertLevel.Critical ? rule.Critical : rule.Warning;
            if (Beyond(hold, rule.Hysteresis))
            {
                target = state.Level;
            }
            else if (state.Level == AlertLevel.Critical && Beyond(rule.Warning, rule.Hysteresis))
            {
                target = AlertLevel.Warning;
            }
        }

        if (target == state.Level)
        {
            return null;
        }

        var previous = state.Level;
        if (target > previous && target <= state.LastRaisedLevel && state.LastRaisedPosition is long last && position - last < rule.CooldownSteps)
        {
            // In cooldown: the level is tracked, but the same alert is not raised again.
            state.Level = target;
            return null;
        }

        state.Level = target;
        double threshold = target switch
        {
            AlertLevel.Critical => rule.Critical,
            AlertLevel.Warning => rule.Warning,
            _ => rule.Warning,
        };
        if (target > previous)
        {
            state.LastRaisedPosition = position;
            state.LastRaisedLevel = target;
        }

        string verb = target > previous ? "raised" : "lowered";
        string message = $"Rule '{rule.Name}' {verb} to {target} at step {step}: {rule.Indicator} = {value:G4} ({Describe(rule)} {compared:G4} vs threshold {threshold:G4}).";
        return new StabilityAlert(step, target, previous, rule.Name, rule.Indicator, value, compared, threshold, readings, message);
    }

    private static string Describe(AlertRule rule) => rule.Comparison switch
    {
        RuleComparison.RatioToBaseline => "ratio to baseline",
        RuleComparison.RatioToIndicator => $"ratio to {rule.Reference}",
        RuleComparison.Trend => $"ratio to {rule.TrendWindow} observations earlier",
        _ => "value",
    };

    /// <summary>A fresh state for <paramref name="rule"/>: Ok, no history (a trend window's worth of observations kept).</summary>
    private static RuleState NewState(AlertRule rule) => new(Math.Max(rule.TrendWindow, 1) + 1);

    private Baseline BaselineOf(string indicator)
    {
        if (!_baselines.TryGetValue(indicator, out var baseline))
        {
            baseline = new Baseline(_baselineKind, _baselineCount, _ewmaAlpha);
            _baselines[indicator] = baseline;
        }

        return baseline;
    }

    private sealed class RuleState(int capacity)
    {
        private readonly double[] _history = new double[capacity];
        private int _count;

        public AlertLevel Level { get; set; }

        public AlertLevel LastRaisedLevel { get; set; }

        /// <summary>The timeline position of the latest raise (null before the first): cooldowns count from it.</summary>
        public long? LastRaisedPosition { get; set; }

        public void Record(double value)
        {
            _history[_count % _history.Length] = value;
            _count++;
        }

        /// <summary>The value recorded <paramref name="back"/> observations before the latest (not yet recorded) one.</summary>
        public double? Back(int back) => _count >= back ? _history[(_count - back) % _history.Length] : null;
    }

    private sealed class Baseline(BaselineKind kind, int count, double alpha)
    {
        private readonly List<double> _first = [];
        private double _ewma = double.NaN;

        public double? Value => kind == BaselineKind.Median
            ? (_first.Count >= count ? Median(_first) : null)
            : (double.IsNaN(_ewma) ? null : _ewma);

        public void Add(double value)
        {
            if (kind == BaselineKind.Median)
            {
                if (_first.Count < count)
                {
                    _first.Add(value);
                }
            }
            else
            {
                _ewma = double.IsNaN(_ewma) ? value : (alpha * _ewma) + ((1 - alpha) * value);
            }
        }

        private static double Median(List<double> values)
        {
            var sorted = values.Order().ToArray();
            int mid = sorted.Length / 2;
            return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        }
    }
}
