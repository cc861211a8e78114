namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>One evaluation of a detector: the step it was evaluated at and whether it fired.</summary>
/// <param name="Step">Training step (a probe's step, or every step for step-level detectors).</param>
/// <param name="On">Whether the detector's condition held.</param>
public readonly record struct DetectorReading(long Step, bool On);

/// <summary>What one detector did on one run.</summary>
/// <param name="FirstSpike">The run's first spike onset, or null for a run that never spikes.</param>
/// <param name="WarningStep">The first step at or after the warm-up, strictly before <paramref name="FirstSpike"/>, at which the detector was on (null: no warning).</param>
/// <param name="Onsets">Alarm onsets (off → on) at or after the warm-up, over the whole run.</param>
/// <param name="CountedSteps">Steps of the run at or after the warm-up (the false-alarm denominator).</param>
public sealed record RunScore(int? FirstSpike, long? WarningStep, int Onsets, long CountedSteps)
{
    /// <summary>Steps between the warning and the first spike, or null.</summary>
    public long? LeadTime => FirstSpike is int s && WarningStep is long w ? s - w : null;
}

/// <summary>A detector's metrics over a suite of runs.</summary>
/// <param name="SpikingRuns">Runs with at least one spike.</param>
/// <param name="WarnedRuns">Spiking runs warned strictly before their first spike (and after the warm-up).</param>
/// <param name="Recall">WarnedRuns / SpikingRuns (NaN without spiking runs).</param>
/// <param name="MedianLead">Median lead time in steps over warned runs (NaN when none).</param>
/// <param name="MinimumLead">Minimum lead time in steps over warned runs (NaN when none).</param>
/// <param name="StableRuns">Runs that never spike.</param>
/// <param name="StableRunsAlarmed">Stable runs with at least one alarm onset.</param>
/// <param name="FalseAlarmOnsets">Alarm onsets on stable runs.</param>
/// <param name="StableSteps">Counted steps of stable runs.</param>
/// <param name="FalseAlarmsPer1000Steps">1000 × FalseAlarmOnsets / StableSteps (NaN without stable steps).</param>
public sealed record DetectorMetrics(
    int SpikingRuns,
    int WarnedRuns,
    double Recall,
    double MedianLead,
    double MinimumLead,
    int StableRuns,
    int StableRunsAlarmed,
    int FalseAlarmOnsets,
    long StableSteps,
    double FalseAlarmsPer1000Steps);

/// <summary>
/// Pure functions that score a detector offline: thresholds to on/off readings, alarm onsets, warnings before the
/// first spike, recall, lead times and false alarms per 1,000 steps. No clocks, no randomness.
/// </summary>
public static class DetectionScoring
{
    /// <summary>
    /// Readings of a threshold detector: on when <c>value ≥ threshold</c> (or <c>≤</c> when <paramref name="above"/> is
    /// false). NaN values (not measured) are dropped; ±∞ compare normally.
    /// </summary>
    public static IReadOnlyList<DetectorReading> Threshold(IReadOnlyList<(long Step, double Value)> series, double threshold, bool above = true)
    {
        ArgumentNullException.ThrowIfNull(series);
        var readings = new List<DetectorReading>(series.Count);
        foreach (var (step, value) in series)
        {
            if (!double.IsNaN(value))
            {
                readings.Add(new DetectorReading(step, above ? value >= threshold : value <= threshold));
            }
        }

        return readings;
    }

    /// <summary>
    /// The steps at which the detector goes from off to on, considering only readings at or after
    /// <paramref name="warmup"/> (the state before the first counted reading is off, so a detector already on at the
    /// warm-up has an onset there).
    /// </summary>
    public static IReadOnlyList<long> Onsets(IReadOnlyList<DetectorReading> readings, long warmup)
    {
        ArgumentNullException.ThrowIfNull(readings);
        var onsets = new List<long>();
        bool on = false;
        foreach (var reading in readings)
        {
            if (reading.Step < warmup)
            {
                continue;
            }

            if (reading.On && !on)
            {
                onsets.Add(reading.Step);
            }

            on = reading.On;
        }

        return onsets;
    }

    /// <summary>
    /// The first step at or after <paramref name="warmup"/> and strictly before <paramref name="firstSpike"/> at which
    /// the detector is on; null when there is none or the run never spikes.
    /// </summary>
    public static long? WarningStep(IReadOnlyList<DetectorReading> readings, int? firstSpike, long warmup)
    {
        ArgumentNullException.ThrowIfNull(readings);
        if (firstSpike is not int spike)
        {
            return null;
        }

        foreach (var reading in readings)
        {
            if (reading.Step >= spike)
            {
                break;
            }

            if (reading.Step >= warmup && reading.On)
            {
                return reading.Step;
            }
        }

        return null;
    }

    /// <summary>Scores one detector on one run of <paramref name="totalSteps"/> steps.</summary>
    public static RunScore Score(IReadOnlyList<DetectorReading> readings, int? firstSpike, long totalSteps, long warmup)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(totalSteps);
        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        return new RunScore(firstSpike, WarningStep(readings, firstSpike, warmup), Onsets(readings, warmup).Count, Math.Max(0, totalSteps - warmup));
    }

    /// <summary>Aggregates per-run scores: recall and lead times over spiking runs, false alarms over the others.</summary>
    public static DetectorMetrics Aggregate(IReadOnlyList<RunScore> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var spiking = runs.Where(r => r.FirstSpike is not null).ToArray();
        var stable = runs.Where(r => r.FirstSpike is null).ToArray();
        var leads = spiking.Select(r => r.LeadTime).OfType<long>().Select(l => (double)l).ToArray();
        int onsets = stable.Sum(r => r.Onsets);
        long steps = stable.Sum(r => r.CountedSteps);
        return new DetectorMetrics(
            spiking.Length,
            leads.Length,
            spiking.Length == 0 ? double.NaN : (double)leads.Length / spiking.Length,
            leads.Length == 0 ? double.NaN : Median(leads),
            leads.Length == 0 ? double.NaN : leads.Min(),
            stable.Length,
            stable.Count(r => r.Onsets > 0),
            onsets,
            steps,
            steps == 0 ? double.NaN : 1000.0 * onsets / steps);
    }

    /// <summary>The median (mean of the two middle values for an even count); NaN for an empty list.</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>
    /// z-score of each value against an exponentially weighted mean and variance of the previous ones (weight
    /// <paramref name="alpha"/> on the past), the statistic the monitor reports: NaN for the first
    /// max(<paramref name="warmup"/>, 2) values; a non-finite value gives +∞ and is not folded in; 0 when the variance is 0.
    /// </summary>
    public static double[] EmaZScores(IReadOnlyList<double> values, double alpha, int warmup)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (!(alpha >= 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in [0, 1).");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        var z = new double[values.Count];
        double mean = 0, variance = 0;
        long count = 0;
        for (int i = 0; i < values.Count; i++)
        {
            double value = values[i];
            if (!double.IsFinite(value))
            {
                z[i] = double.PositiveInfinity;
                continue;
            }

            z[i] = double.NaN;
            if (count >= Math.Max(warmup, 2))
            {
                double sd = Math.Sqrt(variance);
                z[i] = sd > 0 ? (value - mean) / sd : 0;
            }

            if (count == 0)
            {
                mean = value;
            }
            else
            {
                double diff = value - mean;
                double increment = (1 - alpha) * diff;
                mean += increment;
                variance = alpha * (variance + (diff * increment));
            }

            count++;
        }

        return z;
    }

    /// <summary>
    /// Each value divided by the median of the first <paramref name="baselineCount"/> finite values, the way the
    /// monitor's ratio-to-baseline rules form it: NaN until the baseline is complete (a value is compared before it
    /// joins the baseline, so the first ratio is that of observation <paramref name="baselineCount"/> + 1), and NaN
    /// when the baseline is 0 or the value NaN.
    /// </summary>
    public static IReadOnlyList<(long Step, double Value)> RatioToBaseline(IReadOnlyList<(long Step, double Value)> series, int baselineCount)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentOutOfRangeException.ThrowIfLessThan(baselineCount, 1);
        var first = new List<double>(baselineCount);
        var result = new List<(long, double)>(series.Count);
        foreach (var (step, value) in series)
        {
            double ratio = double.NaN;
            if (first.Count == baselineCount && !double.IsNaN(value))
            {
                double baseline = Median(first);
                ratio = baseline != 0 && double.IsFinite(baseline) ? value / baseline : double.NaN;
            }

            result.Add((step, ratio));
            if (first.Count < baselineCount && double.IsFinite(value))
            {
                first.Add(value);
            }
        }

        return result;
    }

    /// <summary>
    /// Each value divided by the value <paramref name="window"/> observations earlier (NaN for the first
    /// <paramref name="window"/> observations or when that earlier value is 0 or not finite).
    /// </summary>
    public static IReadOnlyList<(long Step, double Value)> Trend(IReadOnlyList<(long Step, double Value)> series, int window)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        var result = new List<(long, double)>(series.Count);
        for (int i = 0; i < series.Count; i++)
        {
            double earlier = i >= window ? series[i - window].Value : double.NaN;
            result.Add((series[i].Step, earlier != 0 && double.IsFinite(earlier) ? series[i].Value / earlier : double.NaN));
        }

        return result;
    }
}
