using SpectralMonitor.Reference.Monitoring;

namespace SpectralMonitor.Examples.InstabilityDemo;

/// <summary>A learning-rate reduction applied by the monitor's backoff.</summary>
/// <param name="Step">The step after which the monitor reduced the learning rate (it is in force from the next step).</param>
/// <param name="From">The learning rate before.</param>
/// <param name="To">The learning rate after.</param>
internal readonly record struct BackoffEvent(long Step, double From, double To);

/// <summary>Median and maximum of an indicator over a run's successful probes.</summary>
/// <param name="Median">The median (NaN when there is no finite value).</param>
/// <param name="Max">The maximum (NaN when there is no finite value).</param>
/// <param name="Count">Finite values.</param>
internal readonly record struct IndicatorStatistics(double Median, double Max, int Count);

/// <summary>One finished run of the demo.</summary>
/// <param name="Definition">What was run.</param>
/// <param name="Steps">Steps asked for.</param>
/// <param name="Record">What happened.</param>
/// <param name="Backoffs">Every learning-rate reduction, in order.</param>
internal sealed record DemoRunResult(DemoRunDefinition Definition, int Steps, RunRecord Record, IReadOnlyList<BackoffEvent> Backoffs)
{
    /// <summary>Spike onsets (<see cref="Spikes.Onsets"/>).</summary>
    public IReadOnlyList<int> SpikeOnsets => Record.SpikeOnsets;

    /// <summary>First spike step, or null.</summary>
    public int? FirstSpikeStep => Record.FirstSpike;

    /// <summary>First raised alert's step, or null.</summary>
    public long? FirstAlertStep => Record.FirstAlert;

    /// <summary>First spike minus first alert (positive: the alert came first), when both exist.</summary>
    public long? LeadSteps => FirstSpikeStep is int s && FirstAlertStep is long a ? s - a : null;

    /// <summary>Every probe indicator name measured in this run, sorted.</summary>
    public IReadOnlyList<string> IndicatorNames =>
        [.. Record.Probes.Where(p => p.Status == ProbeStatus.Succeeded).SelectMany(p => p.Indicators.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>The series (step, value) of a probe indicator over successful probes.</summary>
    /// <param name="indicator">The indicator's name (<see cref="Indicators"/>).</param>
    public IReadOnlyList<(double Step, double Value)> Series(string indicator) =>
        [.. Record.Probes
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
    /// <summary>The stable run of the same group, or null (not run, or <paramref name="result"/> has no group).</summary>
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
    /// The demo's invariants over the runs present: stable runs do not spike; unstable runs spike without diverging;
    /// a backoff run spikes less than its twin without backoff.
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
                    checks.Add(new($"{id} spikes", run.SpikeOnsets.Count > 0, $"{run.SpikeOnsets.Count} spike(s)"));
                    checks.Add(new($"{id} does not diverge", !run.Record.Diverged, run.Record.Diverged ? "diverged" : "finite to the end"));
                    break;
                case RunRole.Backoff:
                    var twin = UnstableTwin(run, all);
                    if (twin is not null)
                    {
                        checks.Add(new(
                            $"{id} spikes less than {twin.Definition.Id}",
                            run.SpikeOnsets.Count < twin.SpikeOnsets.Count,
                            $"{run.SpikeOnsets.Count} vs {twin.SpikeOnsets.Count}"));
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
