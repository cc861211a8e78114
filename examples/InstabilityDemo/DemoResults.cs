using System.Globalization;
using SpectralMonitor.Rules;
using SpectralMonitor.Examples.Workloads;

namespace SpectralMonitor.Examples.InstabilityDemo;

/// <summary>A change of the monitor's learning-rate backoff factor downwards.</summary>
/// <param name="Step">The step after which the monitor reduced the factor (in force from the next step).</param>
/// <param name="FromFactor">The factor before.</param>
/// <param name="ToFactor">The factor after.</param>
/// <param name="LearningRate">The learning rate in force from the next step (schedule × new factor).</param>
internal readonly record struct BackoffEvent(long Step, double FromFactor, double ToFactor, double LearningRate);

/// <summary>Median and maximum of an indicator over a run's successful probes.</summary>
/// <param name="Median">The median (NaN when there is no finite value).</param>
/// <param name="Max">The maximum (NaN when there is no finite value).</param>
/// <param name="Count">Finite values.</param>
internal readonly record struct IndicatorStatistics(double Median, double Max, int Count);

/// <summary>One finished run of the demo.</summary>
/// <param name="Definition">What was run.</param>
/// <param name="Steps">Steps asked for.</param>
/// <param name="Trace">What happened.</param>
/// <param name="Backoffs">Every reduction of the backoff factor, in order.</param>
internal sealed record DemoRunResult(DemoRunDefinition Definition, int Steps, RunTrace Trace, IReadOnlyList<BackoffEvent> Backoffs)
{
    /// <summary>How far before a spike an alert onset counts as a warning of it (issue: H = 100).</summary>
    public const int WarningHorizon = 100;

    /// <summary>Material spike onsets (<see cref="LossSpikes.Onsets(IReadOnlyList{double})"/>).</summary>
    public IReadOnlyList<int> SpikeOnsets { get; } = LossSpikes.Onsets(Trace.Losses);

    /// <summary>First spike step, or null.</summary>
    public int? FirstSpikeStep => SpikeOnsets.Count > 0 ? SpikeOnsets[0] : null;

    /// <summary>Alerts that raised a level, in order.</summary>
    public IReadOnlyList<StabilityAlert> RaisedAlerts => Trace.RaisedAlerts;

    /// <summary>First raised alert's step, or null.</summary>
    public long? FirstAlertStep => Trace.FirstAlertStep;

    /// <summary>
    /// The latest alert onset in [first spike − <see cref="WarningHorizon"/>, first spike − 1], or null: the warning
    /// the first spike had, if any.
    /// </summary>
    public long? WarningStep => FirstSpikeStep is int spike
        ? RaisedAlerts.Where(a => a.Step < spike && a.Step >= spike - WarningHorizon).Select(a => (long?)a.Step).LastOrDefault()
        : null;

    /// <summary>First spike minus <see cref="WarningStep"/> (steps of warning), when both exist.</summary>
    public long? LeadSteps => FirstSpikeStep is int s && WarningStep is long w ? s - w : null;

    /// <summary>Whether an alert was in force (the monitor's level above OK) after the step before the first spike.</summary>
    public bool AlertActiveAtFirstSpike => FirstSpikeStep is int spike && LevelAt(spike - 1) > AlertLevel.Ok;

    /// <summary>Steps after which some alert was in force, over steps run.</summary>
    public double AlarmTimeFraction =>
        Trace.AlertLevels.Count == 0 ? 0 : (double)Trace.AlertLevels.Count(l => l > AlertLevel.Ok) / Trace.AlertLevels.Count;

    /// <summary>Every probe indicator name measured in this run, sorted.</summary>
    public IReadOnlyList<string> IndicatorNames =>
        [.. Trace.Probes.Where(p => p.Status == ProbeStatus.Succeeded).SelectMany(p => p.Indicators.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>The monitor's highest alert level after step <paramref name="step"/> (OK outside the run).</summary>
    public AlertLevel LevelAt(long step) =>
        step >= 0 && step < Trace.AlertLevels.Count ? Trace.AlertLevels[(int)step] : AlertLevel.Ok;

    /// <summary>The series (step, value) of a probe indicator over successful probes.</summary>
    /// <param name="indicator">The indicator's name (<see cref="Indicators"/>).</param>
    public IReadOnlyList<(double Step, double Value)> Series(string indicator) =>
        [.. Trace.Probes
            .Where(p => p.Status == ProbeStatus.Succeeded && p.Indicators.ContainsKey(indicator))
            .Select(p => ((double)p.Step, p.Indicators[indicator]))];

    /// <summary>Median and maximum of a probe indicator over the run (finite values only).</summary>
    /// <param name="indicator">The indicator's name.</param>
    public IndicatorStatistics Statistics(string indicator)
    {
        var values = Series(indicator).Select(p => p.Value).Where(double.IsFinite).Order().ToArray();
        if (values.Length == 0)
        {
            return new IndicatorStatistics(double.NaN, double.NaN, 0);
        }

        int mid = values.Length / 2;
        double median = values.Length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
        return new IndicatorStatistics(median, values[^1], values.Length);
    }
}

/// <summary>Comparisons across the runs of one demo: stable twins, ratios and the invariants the demo promises.</summary>
internal static class DemoComparisons
{
    /// <summary>The stable run of the same group, or null.</summary>
    public static DemoRunResult? StableTwin(DemoRunResult result, IReadOnlyList<DemoRunResult> all) =>
        all.FirstOrDefault(r => r.Definition.Group == result.Definition.Group && r.Definition.Role == RunRole.Stable);

    /// <summary>The unstable run without backoff of the same group, or null.</summary>
    public static DemoRunResult? UnstableTwin(DemoRunResult result, IReadOnlyList<DemoRunResult> all) =>
        all.FirstOrDefault(r => r.Definition.Group == result.Definition.Group && r.Definition.Role == RunRole.Unstable);

    /// <summary>
    /// This run's median of <paramref name="indicator"/> over its stable twin's median; NaN when there is no stable
    /// twin, or either median is missing, or the stable median is zero.
    /// </summary>
    public static double RatioToStable(DemoRunResult result, string indicator, IReadOnlyList<DemoRunResult> all)
    {
        var twin = StableTwin(result, all);
        if (twin is null)
        {
            return double.NaN;
        }

        double numerator = result.Statistics(indicator).Median;
        double denominator = twin.Statistics(indicator).Median;
        return denominator != 0 && double.IsFinite(denominator) && double.IsFinite(numerator) ? numerator / denominator : double.NaN;
    }

    /// <summary>
    /// What the demo promises about the training runs themselves (not about the monitor's alarms, which the report
    /// shows as they are): stable runs do not spike; unstable runs spike and do not diverge to a non-finite loss; a
    /// backoff run backed off, spikes no more often than its twin without backoff and ends at a lower loss (a run that
    /// collapses to chance spikes once and stays there, so the spike count alone does not say which run fared better);
    /// a guard run skipped at least one update and ends finite at a lower loss than its unguarded twin.
    /// </summary>
    public static IReadOnlyList<InvariantCheck> Invariants(IReadOnlyList<DemoRunResult> all)
    {
        var checks = new List<InvariantCheck>();
        foreach (var run in all)
        {
            string id = run.Definition.Id;
            switch (run.Definition.Role)
            {
                case RunRole.Stable:
                    checks.Add(new($"{id} has no spike", run.SpikeOnsets.Count == 0, $"{run.SpikeOnsets.Count} spike(s)"));
                    break;
                case RunRole.Unstable:
                    checks.Add(new($"{id} spikes", run.SpikeOnsets.Count > 0, $"{run.SpikeOnsets.Count} spike(s){(run.FirstSpikeStep is int s ? $", first at step {s}" : string.Empty)}"));
                    checks.Add(new($"{id} does not diverge", !run.Trace.Diverged, run.Trace.Diverged ? "the loss became non-finite" : "finite to the end"));
                    break;
                case RunRole.Backoff:
                    checks.Add(new($"{id} backed off", run.Backoffs.Count > 0, $"{run.Backoffs.Count} backoff(s)"));
                    var twin = UnstableTwin(run, all);
                    if (twin is not null)
                    {
                        checks.Add(new(
                            $"{id} fares better than {twin.Definition.Id}: no more spikes, lower final loss",
                            run.SpikeOnsets.Count <= twin.SpikeOnsets.Count && run.Trace.FinalLoss < twin.Trace.FinalLoss,
                            string.Create(CultureInfo.InvariantCulture, $"{run.SpikeOnsets.Count} vs {twin.SpikeOnsets.Count} spike(s), final loss {run.Trace.FinalLoss:G3} vs {twin.Trace.FinalLoss:G3}")));
                    }

                    break;
                case RunRole.Guard:
                    checks.Add(new($"{id} skipped a spike's update", run.Trace.SkippedUpdates > 0, $"{run.Trace.SkippedUpdates} update(s) skipped, {run.Backoffs.Count} cut(s) of the learning rate"));
                    var unguarded = UnstableTwin(run, all);
                    if (unguarded is not null)
                    {
                        // Not "no more spikes": the guard reacts at an onset, so the onset is in the loss either way, and
                        // a twin that collapses to chance spikes once and stays there. What it saves is the run.
                        checks.Add(new(
                            $"{id} ends at a lower loss than {unguarded.Definition.Id}, finite throughout",
                            !run.Trace.Diverged && run.Trace.FinalLoss < unguarded.Trace.FinalLoss,
                            string.Create(CultureInfo.InvariantCulture, $"final loss {run.Trace.FinalLoss:G3} vs {unguarded.Trace.FinalLoss:G3}; {run.SpikeOnsets.Count} vs {unguarded.SpikeOnsets.Count} spike(s)")));
                    }

                    break;
            }
        }

        return checks;
    }
}

/// <summary>One invariant of the demo and whether it held.</summary>
/// <param name="Name">What is claimed.</param>
/// <param name="Holds">Whether it held.</param>
/// <param name="Detail">The numbers behind it.</param>
internal sealed record InvariantCheck(string Name, bool Holds, string Detail);
