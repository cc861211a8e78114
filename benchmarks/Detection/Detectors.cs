using System.Globalization;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>What a detector costs: the configuration whose measured CPU overhead it is scored at.</summary>
internal enum DetectorCost
{
    /// <summary>Nothing beyond the training loop (loss and gradient norm, which the loop computes anyway).</summary>
    Free,

    /// <summary>The monitor at <c>new StabilityMonitorOptions()</c>.</summary>
    DefaultOptions,

    /// <summary>The monitor with dense probing (every probe's indicators are read off that pass).</summary>
    DenseProbing,

    /// <summary>The monitor at its defaults with the opt-in batch-curvature sensor and rule.</summary>
    CurvatureOptions,

    /// <summary>The same with the step sensor read every 5 steps (budget off) and no probes.</summary>
    CurvatureEvery5,

    /// <summary>The step sensors (their measured time per step), less the batch-curvature sensor.</summary>
    StepSensor,

    /// <summary>The batch-curvature sensor (<see cref="Detection.BatchCurvatureSensor"/>: one more forward pass per step).</summary>
    BatchCurvatureSensor,
}

/// <summary>
/// A detector: turns a recorded run into an alarm state per step. Detectors read only the <see cref="RecordedRun"/>, so
/// one dense trace per run scores every threshold of every indicator: probes leave training bit-identical (each pass
/// checks its losses against the unmonitored pass, <see cref="PassRecord.SameLosses"/>).
/// </summary>
internal interface IDetector
{
    /// <summary>Unique name (tables, results.json).</summary>
    string Name { get; }

    /// <summary>The detector family: detectors of one family differ only by threshold, and one of them is chosen on the tune seeds.</summary>
    string Family { get; }

    /// <summary>The threshold, or null for a fixed detector.</summary>
    double? Threshold { get; }

    /// <summary>Where its cost comes from.</summary>
    DetectorCost Cost { get; }

    /// <summary>Whether <paramref name="run"/> has what the detector reads (the pass it needs was trained).</summary>
    bool Applies(RecordedRun run);

    /// <summary>The alarm state at each step of <paramref name="run"/>.</summary>
    bool[] Alarm(RecordedRun run);
}

/// <summary>The monitor's own alert level as it ran in one configuration (rules included), on at or above a level.</summary>
internal sealed record MonitorLevelDetector(string Configuration, AlertLevel Minimum) : IDetector
{
    public string Name => $"monitor rules, {Configuration switch { MonitorConfigurations.Default => "default options", MonitorConfigurations.Curvature => "default options + batch curvature (opt-in)", MonitorConfigurations.CurvatureEvery5 => "batch curvature read every 5 steps, no probes", _ => "dense probing" }}, {(Minimum == AlertLevel.Warning ? "Warning or Critical" : "Critical")}";

    public string Family => Name;

    public double? Threshold => null;

    public DetectorCost Cost => Configuration switch
    {
        MonitorConfigurations.Default => DetectorCost.DefaultOptions,
        MonitorConfigurations.Curvature => DetectorCost.CurvatureOptions,
        MonitorConfigurations.CurvatureEvery5 => DetectorCost.CurvatureEvery5,
        _ => DetectorCost.DenseProbing,
    };

    public bool Applies(RecordedRun run) => run?.Pass(Configuration) is not null;

    public bool[] Alarm(RecordedRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var pass = run.Pass(Configuration) ?? throw new InvalidOperationException($"{run.Name} has no '{Configuration}' pass.");
        return DetectionScoring.FromLevels(pass.LevelChanges, run.StepsRun, (int)Minimum);
    }
}

/// <summary>How a probe indicator's series is turned into the value that is thresholded.</summary>
internal enum SeriesTransform
{
    /// <summary>The value itself.</summary>
    Value,

    /// <summary>Over the median of its first five probes (the monitor's ratio-to-baseline).</summary>
    RatioToBaseline,

    /// <summary>Over its value three probes earlier (the monitor's trend).</summary>
    Trend,
}

/// <summary>A threshold on one probe indicator, read off the dense pass's probes and held between probes.</summary>
internal sealed record ProbeIndicatorDetector(string Indicator, SeriesTransform Transform, double Value, bool Above, bool Optional = false) : IDetector
{
    /// <summary>Baseline probes of ratio-to-baseline detectors (the monitor's default BaselineProbes).</summary>
    public const int BaselineProbes = 5;

    /// <summary>Probes back of trend detectors (the monitor's default TrendWindow).</summary>
    public const int TrendWindow = 3;

    public string Family => Transform switch
    {
        SeriesTransform.RatioToBaseline => $"{Indicator} / baseline {(Above ? "≥" : "≤")} x",
        SeriesTransform.Trend => $"{Indicator} trend over {TrendWindow} probes {(Above ? "≥" : "≤")} x",
        _ => $"{Indicator} {(Above ? "≥" : "≤")} x",
    };

    public string Name => Family[..^1] + Value.ToString("G4", CultureInfo.InvariantCulture);

    public double? Threshold => Value;

    public DetectorCost Cost => DetectorCost.DenseProbing;

    /// <summary>A run is scored when it has a dense pass and, for an <see cref="Optional"/> indicator (one measured
    /// only by an estimator outside the default set), when some probe of that pass measured it.</summary>
    public bool Applies(RecordedRun run) => run?.Pass(MonitorConfigurations.Dense) is { } pass
        && (!Optional || pass.Probes.Any(p => p.Indicators.ContainsKey(Indicator)));

    public bool[] Alarm(RecordedRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var pass = run.Pass(MonitorConfigurations.Dense) ?? throw new InvalidOperationException($"{run.Name} has no dense pass.");
        var series = pass.Probes.Where(p => p.Succeeded)
            .Select(p => (p.Step, p.Indicators.TryGetValue(Indicator, out double v) ? v : double.NaN))
            .ToArray();
        var compared = Transform switch
        {
            SeriesTransform.RatioToBaseline => DetectionScoring.RatioToBaseline(series, BaselineProbes),
            SeriesTransform.Trend => DetectionScoring.Trend(series, TrendWindow),
            _ => series,
        };
        return DetectionScoring.Hold(DetectionScoring.Threshold(compared, Value, Above), run.StepsRun);
    }
}

/// <summary>
/// An EMA z-score of a per-step signal over a threshold (α = 0.97, the first 20 steps undefined: the monitor's and
/// ZClip's statistic), evaluated at every step.
/// </summary>
internal sealed record StepZScoreDetector(string Signal, double Value, DetectorCost Cost, string? FixedName = null) : IDetector
{
    /// <summary>EMA weight on the past (ZClip's α and the monitor's StatisticsEwmaAlpha).</summary>
    public const double Alpha = 0.97;

    /// <summary>Steps before a z-score is defined (the monitor's StatisticsWarmupSteps).</summary>
    public const int Warmup = 20;

    public string Family => FixedName ?? $"{Signal} z-score ≥ x";

    public string Name => FixedName ?? Family[..^1] + Value.ToString("G4", CultureInfo.InvariantCulture);

    public double? Threshold => Value;

    /// <summary>A run is scored when its trace has the signal with some finite value (the adaptive-only optimizer-state
    /// statistics are NaN throughout for SGD, which is not a non-finite loss to alarm on).</summary>
    public bool Applies(RecordedRun run) => run?.StepSignals.TryGetValue(Signal, out var values) == true && values.Any(double.IsFinite);

    public bool[] Alarm(RecordedRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var values = run.StepSignals[Signal];
        var z = DetectionScoring.EmaZScores(values, Alpha, Warmup);
        return [.. z.Take(run.StepsRun).Select(v => v >= Value)];
    }
}

/// <summary>
/// Two per-step signals that agree: on at step t when the EMA z-scores of both (<see cref="StepZScoreDetector"/>'s
/// statistic) have reached x within the last <see cref="Window"/> steps, t included. One signal alone crosses its bar
/// on mini-batch noise; the question is whether the two cross together mostly before spikes (issue 15's "combining
/// signals").
/// </summary>
internal sealed record CoincidenceDetector(string First, string Second, double Value, DetectorCost Cost) : IDetector
{
    /// <summary>Steps within which both z-scores must have crossed.</summary>
    public const int Window = 5;

    public string Family => $"{First} and {Second} z-scores within {Window} steps of each other ≥ x";

    public string Name => Family[..^1] + Value.ToString("G4", CultureInfo.InvariantCulture);

    public double? Threshold => Value;

    public bool Applies(RecordedRun run) =>
        run is not null && new[] { First, Second }.All(s => run.StepSignals.TryGetValue(s, out var values) && values.Any(double.IsFinite));

    public bool[] Alarm(RecordedRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var a = Recent(run, First);
        var b = Recent(run, Second);
        return [.. a.Zip(b, (x, y) => x && y)];
    }

    // Whether the signal's z-score reached the bar at some step in [t − Window + 1, t], for every step t.
    private bool[] Recent(RecordedRun run, string signal)
    {
        var z = DetectionScoring.EmaZScores(run.StepSignals[signal], StepZScoreDetector.Alpha, StepZScoreDetector.Warmup);
        var recent = new bool[run.StepsRun];
        int last = int.MinValue / 2;
        for (int t = 0; t < recent.Length; t++)
        {
            if (t < z.Length && z[t] >= Value)
            {
                last = t;
            }

            recent[t] = t - last < Window;
        }

        return recent;
    }
}

/// <summary>Every detector of the benchmark.</summary>
internal static class DetectorCatalog
{
    /// <summary>The ZClip-style baseline's fixed threshold.</summary>
    public const double ZClipThreshold = 2.5;

    public static IReadOnlyList<IDetector> All { get; } = Build();

    private static List<IDetector> Build()
    {
        var detectors = new List<IDetector>
        {
            new MonitorLevelDetector(MonitorConfigurations.Default, AlertLevel.Warning),
            new MonitorLevelDetector(MonitorConfigurations.Default, AlertLevel.Critical),
            new MonitorLevelDetector(MonitorConfigurations.Curvature, AlertLevel.Warning),
            new MonitorLevelDetector(MonitorConfigurations.Curvature, AlertLevel.Critical),
            new MonitorLevelDetector(MonitorConfigurations.CurvatureEvery5, AlertLevel.Warning),
            new MonitorLevelDetector(MonitorConfigurations.CurvatureEvery5, AlertLevel.Critical),
            new MonitorLevelDetector(MonitorConfigurations.Dense, AlertLevel.Warning),
            new MonitorLevelDetector(MonitorConfigurations.Dense, AlertLevel.Critical),
            new StepZScoreDetector(StepSignalNames.GradientNorm, ZClipThreshold, DetectorCost.Free, $"ZClip-style gradient-norm z-score > {ZClipThreshold} (fixed)"),
        };

        void Probe(string indicator, SeriesTransform transform, bool above, params double[] thresholds) =>
            detectors.AddRange(thresholds.Select(t => new ProbeIndicatorDetector(indicator, transform, t, above)));
        void OptionalProbe(string indicator, SeriesTransform transform, bool above, params double[] thresholds) =>
            detectors.AddRange(thresholds.Select(t => new ProbeIndicatorDetector(indicator, transform, t, above, Optional: true)));
        void Step(string signal, DetectorCost cost, params double[] thresholds) =>
            detectors.AddRange(thresholds.Select(t => new StepZScoreDetector(signal, t, cost)));

        Probe(Indicators.SharpnessToEdge, SeriesTransform.Value, true, 0.5, 0.8, 0.9, 1, 1.5, 2, 5, 10, 100);
        Probe(Indicators.OscillatoryRadius, SeriesTransform.Value, true, 0.95, 0.99, 1, 1.01, 1.1);
        Probe(Indicators.SpectralRadius, SeriesTransform.Value, true, 0.99, 1, 1.01, 1.1, 1.5);
        Probe(Indicators.ExceptionalPointDistance, SeriesTransform.Value, false, 0, 0.01, 0.1);
        Probe(Indicators.Sharpness, SeriesTransform.RatioToBaseline, true, 1.5, 2, 5, 10);
        Probe(Indicators.Sharpness, SeriesTransform.Trend, true, 1.2, 1.5, 2, 3);
        Probe(Indicators.TopEigenvectorCondition, SeriesTransform.RatioToBaseline, true, 3, 10, 100);
        Probe(Indicators.TransientGrowth, SeriesTransform.RatioToBaseline, true, 1.5, 3, 10);
        Probe(Indicators.WeightTopSingularValue, SeriesTransform.RatioToBaseline, true, 1.5, 2, 3);
        Probe(Indicators.WeightTopSingularValue, SeriesTransform.Trend, true, 1.02, 1.05, 1.1);

        // The ε-dominance of Adam's top preconditioned mode (ProbeEstimators.EpsilonModes; only in traces run with
        // --dense-estimators Default,EpsilonModes): the mass of the top mode on coordinates with √v̂ < cε, and the
        // sharpness with √v̂ floored at cε over the edge (benchmarks/Detection/WARNINGS.md).
        foreach (int c in new[] { 1, 10, 100 })
        {
            OptionalProbe(Indicators.AtEpsilonFactor(Indicators.TopModeEpsilonMass, c), SeriesTransform.Value, true, 0.1, 0.3, 0.5, 0.8);
            OptionalProbe(Indicators.AtEpsilonFactor(Indicators.UpdateModeEpsilonMass, c), SeriesTransform.Value, true, 0.1, 0.3, 0.5, 0.8);
        }

        foreach (int c in new[] { 10, 100 })
        {
            OptionalProbe(Indicators.AtEpsilonFactor(Indicators.CappedSharpnessToEdge, c), SeriesTransform.Value, true, 0.5, 0.8, 1, 1.5, 2, 5);
            OptionalProbe(Indicators.AtEpsilonFactor(Indicators.CappedSharpnessToEdge, c), SeriesTransform.RatioToBaseline, true, 1.5, 2, 3, 5);
        }
        void Both(string first, string second, DetectorCost cost) =>
            detectors.AddRange(new[] { 2, 2.5, 3, 4 }.Select(t => new CoincidenceDetector(first, second, t, cost)));
        Both(StepSignalNames.Loss, StepSignalNames.GradientNorm, DetectorCost.Free);
        Both(StepSignalNames.Loss, OptimizerStateSensor.SaturatedShare, DetectorCost.StepSensor);
        Both(StepSignalNames.GradientNorm, OptimizerStateSensor.SaturatedShare, DetectorCost.StepSensor);
        Step(StepSignalNames.GradientNorm, DetectorCost.Free, 2.5, 3, 4, 6);
        Step(StepSignalNames.Loss, DetectorCost.Free, 2, 2.5, 3, 4, 6);
        foreach (string signal in StepSensors.DetectableSignalNames())
        {
            Step(signal, StepSensors.CostOf(signal), 2.5, 3, 4, 6);
        }

        // The curvature of each step's own batch along its update over the edge (BatchCurvatureSensor): read at every
        // step, and every 5 steps as the monitor's sensor cadence would read it, each read or an EMA over the reads
        // (weight on the past 0.5, 0.8, 0.9); an alarm holds 50 steps past its last read at or above the threshold
        // (screens/batch_sharpness.py, screens/batch_curvature_smoothing.py).
        foreach (int every in new[] { 1, 5 })
        {
            detectors.AddRange(new[] { 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1 }.Select(t =>
                new StepSignalDetector(BatchCurvatureSensor.ToEdge, StepTransform.Value, t, ReadEvery: every, HoldSteps: 50)));
        }

        foreach (double alpha in new[] { 0.5, 0.8, 0.9 })
        {
            detectors.AddRange(new[] { 0.04, 0.05, 0.06, 0.075, 0.09, 0.1, 0.125, 0.15, 0.2, 0.25 }.Select(t =>
                new StepSignalDetector(BatchCurvatureSensor.ToEdge, StepTransform.Value, t, ReadEvery: 5, HoldSteps: 50, ReadEma: alpha)));
        }

        // The rule's average (0.5) with a warm-up: no alarm in the first 20, 50 or 100 steps, where the first reads of a
        // run (Adam's bias correction c₁ still far from 1, the loss falling fast) sit high on healthy runs too.
        foreach (int warmup in new[] { 20, 50, 100 })
        {
            detectors.AddRange(new[] { 0.05, 0.075, 0.1, 0.125, 0.15, 0.2 }.Select(t =>
                new StepSignalDetector(BatchCurvatureSensor.ToEdge, StepTransform.Value, t, ReadEvery: 5, HoldSteps: 50, ReadEma: 0.5, WarmupSteps: warmup)));
        }

        // The same rule read more sparsely, as a budget spaces the reads: every 10 and every 20 steps.
        foreach (int every in new[] { 10, 20 })
        {
            detectors.AddRange(new[] { 0.05, 0.075, 0.1, 0.125, 0.15, 0.2 }.Select(t =>
                new StepSignalDetector(BatchCurvatureSensor.ToEdge, StepTransform.Value, t, ReadEvery: every, HoldSteps: 50, ReadEma: 0.5, WarmupSteps: 20)));
        }

        return detectors;
    }
}

/// <summary>How a per-step signal is turned into the value that <see cref="StepSignalDetector"/> thresholds.</summary>
internal enum StepTransform
{
    /// <summary>The value itself.</summary>
    Value,

    /// <summary>Its EMA z-score (α = 0.97, 20 warm-up steps: <see cref="StepZScoreDetector"/>'s statistic); below: z ≤ −x.</summary>
    EmaZScore,

    /// <summary>Over the median of its values at steps 10–19 (an early baseline, before the GPT warm-up's blow-ups at steps 60–90).</summary>
    RatioToBaseline,

    /// <summary>Its EMA (α = 0.9) over the same EMA 20 steps earlier.</summary>
    Trend,
}

/// <summary>
/// A threshold on a per-step sensor signal after a <see cref="StepTransform"/>, evaluated at every step, on when the
/// transformed value is ≥ x (or ≤ x; ≤ −x for a z-score). Undefined values (NaN: before a transform's window, or not
/// measured) are off, and nothing is held back to earlier steps: an onset is the first step at which the condition
/// was measured to hold (a value threshold from step 0, the transforms from step 20), never a step before the signal
/// said anything (<see cref="StepThresholdDetector"/> instead gives steps before 20 the state of step 20, which puts an
/// onset at step 0 when that state is on).
/// </summary>
/// <param name="Signal">The per-step signal.</param>
/// <param name="Transform">What is thresholded.</param>
/// <param name="Value">The threshold.</param>
/// <param name="Above">On at or above the threshold (false: at or below).</param>
/// <param name="ReadEvery">The signal is read only at steps that are multiples of this (a sensor on a cadence, as the
/// monitor reads it at the default cost); the state holds between reads.</param>
/// <param name="HoldSteps">Once on, the alarm stays on until no read has met the condition for this many steps (0: it
/// follows each read).</param>
/// <param name="ReadEma">Weight on the past of an exponential average over the reads (finite values only), compared
/// instead of each read (0: the read itself).</param>
/// <param name="WarmupSteps">The alarm stays off before this step (reads before it still feed the average), as a rule
/// with <c>AlertRule.WarmupSteps</c> does.</param>
internal sealed record StepSignalDetector(string Signal, StepTransform Transform, double Value, bool Above = true, int ReadEvery = 1, int HoldSteps = 0, double ReadEma = 0, int WarmupSteps = 0) : IDetector
{
    /// <summary>First step (inclusive) of the ratio's baseline.</summary>
    public const int BaselineStart = 10;

    /// <summary>End step (exclusive) of the ratio's baseline, and the first step every transform is defined at.</summary>
    public const int BaselineEnd = 20;

    /// <summary>Steps back of the trend.</summary>
    public const int TrendWindow = 20;

    /// <summary>EMA weight on the past of the trend's smoothing.</summary>
    public const double TrendAlpha = 0.9;

    public string Family => Transform switch
    {
        StepTransform.EmaZScore => $"{Signal}{Cadence} z-score {(Above ? "≥ x" : "≤ −x")}",
        StepTransform.RatioToBaseline => $"{Signal}{Cadence} / baseline {(Above ? "≥" : "≤")} x",
        StepTransform.Trend => $"{Signal}{Cadence} trend over {TrendWindow} steps {(Above ? "≥" : "≤")} x",
        _ => $"{Signal}{Cadence} {(Above ? "≥" : "≤")} x",
    };

    private string Cadence =>
        (ReadEvery > 1 ? $" read every {ReadEvery} steps" : "")
        + (ReadEma > 0 ? string.Create(CultureInfo.InvariantCulture, $", EMA {ReadEma} over reads") : "")
        + (WarmupSteps > 0 ? $", from step {WarmupSteps}" : "")
        + (HoldSteps > 0 ? $" (held {HoldSteps} steps)" : "");

    public string Name => Family[..^1] + Value.ToString("G4", CultureInfo.InvariantCulture);

    public double? Threshold => Value;

    public DetectorCost Cost => StepSensors.CostOf(Signal);

    /// <summary>A run is scored when its trace has the signal with some finite value.</summary>
    public bool Applies(RecordedRun run) => run?.StepSignals.TryGetValue(Signal, out var values) == true && values.Any(double.IsFinite);

    public bool[] Alarm(RecordedRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (!run.StepSignals.TryGetValue(Signal, out var values))
        {
            return new bool[run.StepsRun];
        }

        var series = Transformed(values, Transform).Take(run.StepsRun).ToArray();
        double bar = Transform == StepTransform.EmaZScore && !Above ? -Value : Value;
        var reads = Reads(series);
        var alarm = new bool[series.Length];
        bool on = false;
        int lastMet = int.MinValue / 2;
        for (int t = 0; t < series.Length; t++)
        {
            if (t % Math.Max(1, ReadEvery) == 0)
            {
                bool met = t >= WarmupSteps && (Above ? reads[t] >= bar : reads[t] <= bar);
                lastMet = met ? t : lastMet;
                on = met || (HoldSteps > 0 && on && t - lastMet < HoldSteps);
            }

            alarm[t] = on;
        }

        return alarm;
    }

    /// <summary>
    /// What the detector compares at each read (every <see cref="ReadEvery"/>-th step; NaN at other steps): the value
    /// itself, or with <see cref="ReadEma"/> its average over the finite reads so far (a non-finite read is compared as it is).
    /// </summary>
    /// <param name="series">The transformed series.</param>
    public double[] Reads(IReadOnlyList<double> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        var reads = new double[series.Count];
        double ema = double.NaN;
        for (int t = 0; t < series.Count; t++)
        {
            double read = double.NaN;
            if (t % Math.Max(1, ReadEvery) == 0)
            {
                read = series[t];
                if (ReadEma > 0 && double.IsFinite(read))
                {
                    ema = double.IsNaN(ema) ? read : (ReadEma * ema) + ((1 - ReadEma) * read);
                    read = ema;
                }
            }

            reads[t] = read;
        }

        return reads;
    }

    /// <summary>The transformed series (NaN where undefined).</summary>
    public static double[] Transformed(IReadOnlyList<double> values, StepTransform transform)
    {
        ArgumentNullException.ThrowIfNull(values);
        switch (transform)
        {
            case StepTransform.EmaZScore:
                return DetectionScoring.EmaZScores(values, StepZScoreDetector.Alpha, StepZScoreDetector.Warmup);
            case StepTransform.RatioToBaseline:
                double baseline = DetectionScoring.Median([.. values.Skip(BaselineStart).Take(BaselineEnd - BaselineStart).Where(double.IsFinite)]);
                return [.. values.Select((v, t) => t >= BaselineEnd && baseline != 0 ? v / baseline : double.NaN)];
            case StepTransform.Trend:
                var smooth = new double[values.Count];
                double ema = double.NaN;
                for (int t = 0; t < values.Count; t++)
                {
                    ema = double.IsNaN(ema) ? values[t] : (TrendAlpha * ema) + ((1 - TrendAlpha) * values[t]);
                    smooth[t] = ema;
                }

                return [.. smooth.Select((v, t) => t >= Math.Max(BaselineEnd, TrendWindow) && smooth[t - TrendWindow] != 0 ? v / smooth[t - TrendWindow] : double.NaN)];
            default:
                return [.. values];
        }
    }
}
