namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>One evaluation of a detector: the step it was evaluated at and whether it fired.</summary>
/// <param name="Step">Training step (a probe's step, or every step for step-level detectors).</param>
/// <param name="On">Whether the detector's condition held.</param>
public readonly record struct DetectorReading(long Step, bool On);

/// <summary>What one detector did on one run, against one spike definition and one horizon.</summary>
/// <param name="Steps">Steps of the run.</param>
/// <param name="Spikes">Spike onsets.</param>
/// <param name="Leads">Lead of each warned spike: the spike's step minus the earliest alarm onset in [spike − H, spike − 1].</param>
/// <param name="Onsets">Alarm onsets (off → on).</param>
/// <param name="TrueOnsets">Onsets followed by a spike onset within H steps (in [onset + 1, onset + H]).</param>
/// <param name="StepsOn">Steps at which the alarm was on.</param>
public sealed record RunScore(int Steps, int Spikes, IReadOnlyList<int> Leads, int Onsets, int TrueOnsets, int StepsOn)
{
    /// <summary>The run has no spike.</summary>
    public bool Stable => Spikes == 0;
}

/// <summary>A detector's metrics over a set of runs.</summary>
/// <param name="Runs">Runs scored.</param>
/// <param name="Steps">Their steps.</param>
/// <param name="Spikes">Spike onsets over all runs.</param>
/// <param name="WarnedSpikes">Spikes with an alarm onset within H steps before them.</param>
/// <param name="Recall">WarnedSpikes / Spikes (NaN without spikes).</param>
/// <param name="MedianLead">Median lead of warned spikes (NaN when none).</param>
/// <param name="Onsets">Alarm onsets over all runs.</param>
/// <param name="TrueOnsets">Onsets followed by a spike within H.</param>
/// <param name="Precision">TrueOnsets / Onsets (NaN without onsets).</param>
/// <param name="FalseOnsetsPer1000Steps">1000 × (Onsets − TrueOnsets) / Steps.</param>
/// <param name="StableRuns">Runs without a spike.</param>
/// <param name="StableRunsAlarmed">Stable runs with at least one alarm onset.</param>
/// <param name="TimeOn">Share of all steps with the alarm on.</param>
public sealed record DetectorMetrics(
    int Runs,
    long Steps,
    int Spikes,
    int WarnedSpikes,
    double Recall,
    double MedianLead,
    int Onsets,
    int TrueOnsets,
    double Precision,
    double FalseOnsetsPer1000Steps,
    int StableRuns,
    int StableRunsAlarmed,
    double TimeOn)
{
    /// <summary>Share of stable runs with any alarm (NaN without stable runs).</summary>
    public double StableRunsAlarmedShare => StableRuns == 0 ? double.NaN : (double)StableRunsAlarmed / StableRuns;

    /// <summary>Harmonic mean of recall and precision (0 when either is 0 or undefined).</summary>
    public double F1 => Recall > 0 && Precision > 0 ? 2 * Recall * Precision / (Recall + Precision) : 0;
}

/// <summary>
/// Pure functions that score alarms against spikes: readings to a per-step alarm state, alarm onsets, warnings within
/// a horizon H, recall, lead, precision, false onsets per 1,000 steps and time on. Only alarm ONSETS warn: an alarm
/// raised at step 10 and held to a spike at step 700 does not warn it for any H &lt; 690. No clocks, no randomness.
/// </summary>
public static class DetectionScoring
{
    /// <summary>
    /// The alarm state at each of <paramref name="steps"/> steps from readings taken at some steps (probes): the state
    /// of the last reading at or before the step, off before the first reading.
    /// </summary>
    public static bool[] Hold(IReadOnlyList<DetectorReading> readings, int steps)
    {
        ArgumentNullException.ThrowIfNull(readings);
        var alarm = new bool[steps];
        int next = 0;
        bool on = false;
        for (int t = 0; t < steps; t++)
        {
            while (next < readings.Count && readings[next].Step <= t)
            {
                on = readings[next].On;
                next++;
            }

            alarm[t] = on;
        }

        return alarm;
    }

    /// <summary>
    /// The alarm state at each step from a monitor's level changes ([step, level] pairs, level 0 before the first):
    /// on when the level is at least <paramref name="minimumLevel"/>.
    /// </summary>
    public static bool[] FromLevels(IReadOnlyList<long[]> changes, int steps, int minimumLevel)
    {
        ArgumentNullException.ThrowIfNull(changes);
        return Hold([.. changes.Select(c => new DetectorReading(c[0], c[1] >= minimumLevel))], steps);
    }

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

    /// <summary>The steps at which the alarm goes from off to on (on at step 0 is an onset).</summary>
    public static IReadOnlyList<int> Onsets(IReadOnlyList<bool> alarm)
    {
        ArgumentNullException.ThrowIfNull(alarm);
        var onsets = new List<int>();
        for (int t = 0; t < alarm.Count; t++)
        {
            if (alarm[t] && (t == 0 || !alarm[t - 1]))
            {
                onsets.Add(t);
            }
        }

        return onsets;
    }

    /// <summary>Scores an alarm against the spike onsets of its run with horizon <paramref name="horizon"/>.</summary>
    /// <param name="alarm">Alarm state per step.</param>
    /// <param name="spikes">Spike onsets, increasing.</param>
    /// <param name="horizon">H ≥ 1: an onset in [t − H, t − 1] warns the spike at t, and is true when a spike follows within H.</param>
    public static RunScore Score(IReadOnlyList<bool> alarm, IReadOnlyList<int> spikes, int horizon)
    {
        ArgumentNullException.ThrowIfNull(alarm);
        ArgumentNullException.ThrowIfNull(spikes);
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, 1);
        var onsets = Onsets(alarm);
        var leads = new List<int>();
        foreach (int spike in spikes)
        {
            int earliest = onsets.FirstOrDefault(o => o >= spike - horizon && o <= spike - 1, -1);
            if (earliest >= 0)
            {
                leads.Add(spike - earliest);
            }
        }

        int trueOnsets = onsets.Count(o => spikes.Any(s => s >= o + 1 && s <= o + horizon));
        return new RunScore(alarm.Count, spikes.Count, leads, onsets.Count, trueOnsets, alarm.Count(on => on));
    }

    /// <summary>Aggregates per-run scores.</summary>
    public static DetectorMetrics Aggregate(IReadOnlyList<RunScore> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        long steps = runs.Sum(r => (long)r.Steps);
        int spikes = runs.Sum(r => r.Spikes);
        var leads = runs.SelectMany(r => r.Leads).Select(l => (double)l).ToArray();
        int onsets = runs.Sum(r => r.Onsets);
        int trueOnsets = runs.Sum(r => r.TrueOnsets);
        var stable = runs.Where(r => r.Stable).ToArray();
        return new DetectorMetrics(
            runs.Count,
            steps,
            spikes,
            leads.Length,
            spikes == 0 ? double.NaN : (double)leads.Length / spikes,
            Median(leads),
            onsets,
            trueOnsets,
            onsets == 0 ? double.NaN : (double)trueOnsets / onsets,
            steps == 0 ? double.NaN : 1000.0 * (onsets - trueOnsets) / steps,
            stable.Length,
            stable.Count(r => r.Onsets > 0),
            steps == 0 ? double.NaN : (double)runs.Sum(r => (long)r.StepsOn) / steps);
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
    /// <paramref name="alpha"/> on the past), the statistic the monitor and ZClip use: NaN for the first
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
    /// monitor's ratio-to-baseline rules form it: NaN until the baseline is complete, and NaN when the baseline is 0
    /// or the value NaN.
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
