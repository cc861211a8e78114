using System.Globalization;
using System.Text;
using ScottPlot;
using SpectralMonitor.Examples.Workloads;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// The model-level signal study of issue 15 (<c>detection logits [--filter TEXT] [--workers N] [--out DIR] [--seeds 1,2,3]</c>):
/// every setting of <see cref="DetectionPlan.Settings"/> (or those whose name contains the filter) trained twice in one
/// worker process, unmonitored: without hooks, then with the step sensors attached (<see cref="LogitSensor"/>'s
/// forward hooks among them), so that each trace says whether the hooks left training bit-identical. The new signals
/// are scored with four detector families each (value, EMA z-score, ratio to an early baseline, trend), thresholds
/// chosen on seed 1 by F1 at H = 100, held-out seeds reported side by side with the ZClip-style gradient-norm z-score
/// and the loss and gradient-norm z-scores. Writes logits.md and logits-trace.svg into DIR.
/// </summary>
internal static class LogitStudy
{
    private static readonly string[] Configurations = [MonitorConfigurations.Unmonitored, MonitorConfigurations.Unmonitored];

    public static int Run(IReadOnlyList<string> args) =>
        StudyArguments.Parse("logits", "logits", args) is { } parsed
            ? parsed.TrainAndReport("logits", Configurations, sensors: true, Report, "logits.md", Chart, "logits-trace.svg")
            : 2;

    /// <summary>The new signals' detectors: four families per signal, each with a threshold grid.</summary>
    public static IReadOnlyList<IDetector> SignalDetectors()
    {
        var detectors = new List<IDetector>();
        void Add(string signal, StepTransform transform, bool above, params double[] thresholds) =>
            detectors.AddRange(thresholds.Select(t => new StepSignalDetector(signal, transform, t, above)));
        double[] z = [2.5, 3, 4, 6, 10];
        foreach (string signal in new[] { LogitSensor.LogPartition, LogitSensor.MaxAbsLogit, LogitSensor.LogitRms, LogitSensor.MaxAttentionLogit })
        {
            Add(signal, StepTransform.EmaZScore, true, z);
            Add(signal, StepTransform.RatioToBaseline, true, 1.2, 1.5, 2, 3, 5, 10);
            Add(signal, StepTransform.Trend, true, 1.05, 1.1, 1.2, 1.5, 2);
        }

        Add(LogitSensor.LogPartition, StepTransform.Value, true, 3, 4, 5, 8, 12, 20, 50);
        Add(LogitSensor.MaxAbsLogit, StepTransform.Value, true, 10, 20, 30, 50, 100, 300);
        Add(LogitSensor.LogitRms, StepTransform.Value, true, 2, 5, 10, 20, 50, 100);
        Add(LogitSensor.MaxAttentionLogit, StepTransform.Value, true, 3, 5, 10, 20, 30, 50, 100);

        // Attention entropy collapses (falls) before an attention-logit instability.
        Add(LogitSensor.MinAttentionEntropy, StepTransform.EmaZScore, false, z);
        Add(LogitSensor.MinAttentionEntropy, StepTransform.RatioToBaseline, false, 0.8, 0.5, 0.2, 0.1, 0.01);
        Add(LogitSensor.MinAttentionEntropy, StepTransform.Trend, false, 0.95, 0.9, 0.8, 0.5, 0.2);
        Add(LogitSensor.MinAttentionEntropy, StepTransform.Value, false, 0.5, 0.2, 0.1, 0.05, 0.01, 1e-3);
        return detectors;
    }

    /// <summary>The baselines: the ZClip-style gradient-norm z-score (fixed) and threshold grids of the loss and gradient-norm z-scores.</summary>
    public static IReadOnlyList<IDetector> Baselines() =>
    [
        new StepZScoreDetector(StepSignalNames.GradientNorm, DetectorCatalog.ZClipThreshold, DetectorCost.Free, $"ZClip-style gradient-norm z-score > {DetectorCatalog.ZClipThreshold} (fixed)"),
        .. new[] { 2, 2.5, 3, 4, 6 }.Select(t => new StepZScoreDetector(StepSignalNames.Loss, t, DetectorCost.Free)),
        .. new[] { 3, 4, 6, 10 }.Select(t => new StepZScoreDetector(StepSignalNames.GradientNorm, t, DetectorCost.Free)),
    ];

    private static string Report(RecordedRun[] runs, TimeSpan elapsed, int workers)
    {
        // Runs that diverge within the first 50 steps are listed, not scored (issue 12).
        var scored = runs.Where(r => !(r.Diverged && r.StepsRun <= 50)).ToArray();
        var spikes = scored.ToDictionary(r => r.Name, r => SpikeDefinitions.Material(r.Losses));
        var text = new StringBuilder();
        double cpu = runs.Sum(r => r.Passes.Sum(p => p.CpuSeconds));
        text.AppendLine(CultureInfo.InvariantCulture, $"detection logits: {runs.Length} runs ({scored.Length} scored), {workers} worker(s), wall {elapsed.TotalMinutes:F1} min, training passes {cpu / 60:F1} CPU-min, load average at end {DetectionBenchmark.LoadAverage()}");
        text.AppendLine("\n| run | role | steps | diverged | material spikes | hooked pass bit-identical |\n|---|---|---|---|---|---|");
        foreach (var r in runs)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {r.Name} | {r.Role} | {r.StepsRun} | {r.Diverged} | {(spikes.TryGetValue(r.Name, out var s) ? string.Join(' ', s) : "not scored")} | {(r.Passes.All(p => p.SameLosses) ? "yes" : "NO")} |");
        }

        // Cost: the logit sensor's own training-thread CPU time per step (hooks and read) against the CPU time per step
        // of the pass without hooks, summed per workload (one machine, the same process, one after the other).
        text.AppendLine("\n| workload | runs | training CPU ms/step (no hooks) | logit sensor ms/step (median) | logit sensor / training |\n|---|---|---|---|---|");
        foreach (var group in runs.GroupBy(r => r.Setting.WorkloadName))
        {
            double training = group.Sum(r => r.Passes[0].CpuSeconds);
            double steps = group.Sum(r => (double)r.StepsRun);
            var ms = group.SelectMany(r => r.StepSignals.TryGetValue(LogitSensor.SensorMilliseconds, out var v) ? v : []).Where(double.IsFinite).ToArray();
            text.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key} | {group.Count()} | {1000 * training / steps:F2} | {DetectionScoring.Median(ms):F3} | {ms.Sum() / 1000 / training:P2} |");
        }

        var detectors = Baselines().Concat(SignalDetectors()).ToArray();
        (string Title, Func<RecordedRun, bool> In)[] groups =
        [
            ("Adam/AdamW, GPT", r => r.Setting.Family == "Adam/AdamW" && r.Setting.Workload == WorkloadKind.CharGpt),
            ("Adam/AdamW, digits", r => r.Setting.Family == "Adam/AdamW" && r.Setting.Workload != WorkloadKind.CharGpt),
            ("Adam/AdamW, all", r => r.Setting.Family == "Adam/AdamW"),
            ("SGD-momentum (digits)", r => r.Setting.Family == "SGD-momentum"),
        ];
        foreach (var (title, inGroup) in groups)
        {
            var tune = scored.Where(r => inGroup(r) && r.Role == SeedRole.Tune).ToArray();
            var held = scored.Where(r => inGroup(r) && r.Role == SeedRole.Report).ToArray();
            if (held.Length == 0 || tune.Length == 0)
            {
                continue;
            }

            // A detector is scored on a group only when every run of it has its signal (no attention on the digits).
            var applicable = detectors.Where(d => tune.Concat(held).All(d.Applies));
            WarningStudy.DetectorTable(text, title, applicable, tune, held, spikes);
        }

        return text.ToString();
    }

    /// <summary>The run of the chart: a held-out Adam GPT run with spikes, else any run with the most spikes.</summary>
    private static RecordedRun? ChartRun(RecordedRun[] runs) =>
        runs.Where(r => !(r.Diverged && r.StepsRun <= 50) && SpikeDefinitions.Material(r.Losses).Count > 0)
            .OrderByDescending(r => r.Setting.Workload == WorkloadKind.CharGpt && r.Setting.Optimizer == OptimizerKind.Adam)
            .ThenByDescending(r => r.Role == SeedRole.Report)
            .ThenBy(r => r.Name, StringComparer.Ordinal)
            .FirstOrDefault();

    /// <summary>The stable run drawn beside it: the held-out stable run of the same workload with the largest attention logit.</summary>
    private static RecordedRun? StableRun(RecordedRun[] runs, RecordedRun spiking) =>
        runs.Where(r => r.Setting.Workload == spiking.Setting.Workload && r.Role == SeedRole.Report && !r.Diverged && SpikeDefinitions.Material(r.Losses).Count == 0)
            .OrderByDescending(r => r.StepSignals.TryGetValue(LogitSensor.MaxAttentionLogit, out var v) ? v.Where(double.IsFinite).DefaultIfEmpty(0).Max() : 0)
            .FirstOrDefault();

    private static string? Chart(RecordedRun[] runs) =>
        ChartRun(runs) is { } run ? DetectionCharts.Compose(Chart(run, StableRun(runs, run)), sideBySide: false, 1000, 260) : null;

    private static List<Plot> Chart(RecordedRun run, RecordedRun? stable)
    {
        const int Steps = 300;
        var spikes = SpikeDefinitions.Material(run.Losses);
        var panels = new List<Plot>();
        foreach (var (signal, label, log, threshold) in new (string, string, bool, double)[]
        {
            (StepSignalNames.Loss, "mini-batch loss", true, double.NaN),
            (LogitSensor.MaxAttentionLogit, "largest attention logit (dotted: 100, the threshold chosen on seed 1)", true, 100),
            (LogitSensor.MinAttentionEntropy, "smallest head entropy of the last row (nats)", false, double.NaN),
            (LogitSensor.LogPartition, "mean log-partition log Z of the output logits", true, double.NaN),
        })
        {
            var plot = new Plot();
            foreach (var (trace, color, suffix) in new[] { (stable, Colors.Gray, " — stable: "), (run, Colors.Blue, " — spiking: ") })
            {
                if (trace is null || !trace.StepSignals.TryGetValue(signal, out var values))
                {
                    continue;
                }

                int n = Math.Min(Steps, trace.StepsRun);
                double[] steps = [.. Enumerable.Range(0, n).Select(t => (double)t)];
                var line = plot.Add.Scatter(steps, [.. values.Take(n).Select(v => !double.IsFinite(v) ? double.NaN : log ? (v > 0 ? Math.Log10(v) : double.NaN) : v)]);
                line.MarkerSize = 0;
                line.Color = color;
                line.LegendText = label + suffix + trace.Name;
            }

            if (!double.IsNaN(threshold))
            {
                plot.Add.HorizontalLine(log ? Math.Log10(threshold) : threshold).LinePattern = LinePattern.Dotted;
            }

            foreach (int s in spikes)
            {
                var v = plot.Add.VerticalLine(s);
                v.Color = Colors.Red;
                v.LinePattern = LinePattern.Dashed;
            }

            plot.YLabel(log ? "log10" : "nats");
            plot.ShowLegend(Alignment.UpperRight);
            plot.Axes.SetLimitsX(0, Steps);
            panels.Add(plot);
        }

        panels[0].Title(string.Create(CultureInfo.InvariantCulture, $"first {Steps} steps; material spike onsets of the spiking run in red"));
        panels[^1].XLabel("step");
        return panels;
    }
}
