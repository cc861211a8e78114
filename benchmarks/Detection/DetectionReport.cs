using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>How the benchmark was run (for results.json and the report).</summary>
/// <param name="Mode">"full", "smoke" or "rescore".</param>
/// <param name="Workers">Worker processes.</param>
/// <param name="LoadAverageAtStart">Load averages when the runs started.</param>
/// <param name="TrainingTime">Wall time of the training part.</param>
internal sealed record RunContext(string Mode, int Workers, string LoadAverageAtStart, TimeSpan TrainingTime);

/// <summary>A detector's scores on one optimizer family: tune runs (material, H = 100) and report runs (every definition and horizon).</summary>
/// <param name="Tune">On the tune seeds, material spikes, H = 100.</param>
/// <param name="Report">On the report seeds, by "definition/H" (e.g. "material/100").</param>
internal sealed record FamilyScores(DetectorMetrics Tune, IReadOnlyDictionary<string, DetectorMetrics> Report);

/// <summary>One detector's results.</summary>
/// <param name="Detector">The detector.</param>
/// <param name="ByFamily">Scores per optimizer family.</param>
/// <param name="SelectedFor">Optimizer families for which this detector is its family's choice on the tune seeds.</param>
internal sealed record DetectorResult(IDetector Detector, IReadOnlyDictionary<string, FamilyScores> ByFamily, IReadOnlyList<string> SelectedFor);

/// <summary>Measured CPU overhead of each configuration over the report runs of a group.</summary>
/// <param name="Group">Optimizer family or "workload optimizer".</param>
/// <param name="Runs">Runs measured.</param>
/// <param name="UnmonitoredCpuSeconds">Mean CPU seconds of an unmonitored run.</param>
/// <param name="Default">ΣCPU(default) / ΣCPU(unmonitored) − 1.</param>
/// <param name="Dense">ΣCPU(dense) / ΣCPU(unmonitored) − 1.</param>
/// <param name="Sensor">Σ sensor time, less the batch-curvature sensor's, / ΣCPU(unmonitored).</param>
/// <param name="DefaultProbes">Mean probes per run at default options.</param>
/// <param name="DenseProbes">Mean probes per run with dense probing.</param>
/// <param name="HvpsPerProbe">Mean HVPs per dense probe.</param>
/// <param name="Curvature">ΣCPU(default options with the opt-in batch-curvature sensor and rule) / ΣCPU(unmonitored) − 1 (NaN when not trained).</param>
/// <param name="CurvatureEvery5">The same with the sensor read every 5 steps and no probes.</param>
/// <param name="BatchCurvature">Σ time of the batch-curvature sensor (its own per-step wall time, <see cref="BatchCurvatureSensor.SensorMilliseconds"/>) / ΣCPU(unmonitored).</param>
internal sealed record Overhead(string Group, int Runs, double UnmonitoredCpuSeconds, double Default, double Dense, double Sensor, double DefaultProbes, double DenseProbes, double HvpsPerProbe, double BatchCurvature, double Curvature, double CurvatureEvery5)
{
    /// <summary>The overhead a detector is scored at.</summary>
    public double Of(DetectorCost cost) => cost switch
    {
        DetectorCost.DefaultOptions => Default,
        DetectorCost.DenseProbing => Dense,
        DetectorCost.StepSensor => Sensor,
        DetectorCost.BatchCurvatureSensor => BatchCurvature,
        DetectorCost.CurvatureOptions => Curvature,
        DetectorCost.CurvatureEvery5 => CurvatureEvery5,
        _ => 0,
    };
}

/// <summary>Everything the benchmark computed.</summary>
internal sealed record DetectionResults(
    RunContext Context,
    IReadOnlyList<RecordedRun> Scored,
    IReadOnlyList<RecordedRun> EarlyDivergence,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<int>>> Spikes,
    IReadOnlyList<DetectorResult> Detectors,
    IReadOnlyList<Overhead> Overheads);

/// <summary>Scores every detector on the recorded runs, chooses thresholds on the tune seeds and writes the outputs.</summary>
internal static class DetectionReport
{
    /// <summary>Runs that diverge at or before this step are listed, not scored.</summary>
    public const int EarlyDivergenceSteps = 50;

    /// <summary>The horizons H.</summary>
    public static IReadOnlyList<int> Horizons { get; } = [100, 25];

    /// <summary>The spike definitions.</summary>
    public static IReadOnlyList<string> Definitions { get; } = [SpikeDefinitions.MaterialName, SpikeDefinitions.LibraryName];

    /// <summary>The optimizer families the results are split by.</summary>
    public static IReadOnlyList<string> Families { get; } = ["SGD-momentum", "Adam/AdamW"];

    /// <summary>The key of the headline scores: material spikes, H = 100.</summary>
    public const string Headline = "material/100";

    public static DetectionResults Build(IReadOnlyList<RecordedRun> runs, RunContext context)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var early = runs.Where(r => r.Diverged && r.StepsRun - 1 <= EarlyDivergenceSteps).ToArray();
        var scored = runs.Except(early).ToArray();
        var spikes = scored.ToDictionary(
            r => r.Name,
            r => (IReadOnlyDictionary<string, IReadOnlyList<int>>)Definitions.ToDictionary(d => d, d => SpikeDefinitions.Of(d, r.Losses)));

        var results = new List<DetectorResult>();
        var alarms = DetectorCatalog.All.ToDictionary(d => d, d => scored.Where(d.Applies).ToDictionary(r => r.Name, d.Alarm));
        foreach (var detector in DetectorCatalog.All)
        {
            var byFamily = new Dictionary<string, FamilyScores>();
            foreach (string family in Families)
            {
                var inFamily = scored.Where(r => r.Setting.Family == family && detector.Applies(r)).ToArray();
                DetectorMetrics Score(IEnumerable<RecordedRun> subset, string definition, int horizon) =>
                    DetectionScoring.Aggregate([.. subset.Select(r => DetectionScoring.Score(alarms[detector][r.Name], spikes[r.Name][definition], horizon))]);
                var report = inFamily.Where(r => r.Role == SeedRole.Report).ToArray();
                var byKey = Definitions.SelectMany(d => Horizons.Select(h => (Key: $"{d}/{h}", d, h)))
                    .ToDictionary(k => k.Key, k => Score(report, k.d, k.h));
                byFamily[family] = new FamilyScores(Score(inFamily.Where(r => r.Role == SeedRole.Tune), SpikeDefinitions.MaterialName, 100), byKey);
            }

            results.Add(new DetectorResult(detector, byFamily, []));
        }

        // Thresholds are chosen on the tune seeds, per optimizer family: the best F1 of recall and precision
        // (material spikes, H = 100); ties go to less time on.
        var selected = results.Select(r => new List<string>()).ToArray();
        foreach (string family in Families)
        {
            foreach (var group in results.Select((r, i) => (r, i)).GroupBy(p => p.r.Detector.Family))
            {
                var best = group.OrderByDescending(p => p.r.ByFamily[family].Tune.F1)
                    .ThenBy(p => double.IsNaN(p.r.ByFamily[family].Tune.TimeOn) ? 1 : p.r.ByFamily[family].Tune.TimeOn)
                    .First();
                selected[best.i].Add(family);
            }
        }

        var withSelection = results.Select((r, i) => r with { SelectedFor = selected[i] }).ToArray();
        return new DetectionResults(context, scored, early, spikes, withSelection, Overheads(scored));
    }

    private static List<Overhead> Overheads(IReadOnlyList<RecordedRun> scored)
    {
        var report = scored.Where(r => r.Role == SeedRole.Report && r.Passes.Count == MonitorConfigurations.All.Count).ToArray();
        var groups = Families.Select(f => (f, report.Where(r => r.Setting.Family == f).ToArray()))
            .Concat(report.GroupBy(r => $"{r.Setting.WorkloadName} {r.Setting.OptimizerName}").OrderBy(g => g.Key).Select(g => (g.Key, g.ToArray())));
        return [.. groups.Where(g => g.Item2.Length > 0).Select(g => Measure(g.Item1, g.Item2))];
    }

    private static Overhead Measure(string group, RecordedRun[] runs)
    {
        double Cpu(string c) => runs.Sum(r => r.Pass(c)!.CpuSeconds);
        double plain = Cpu(MonitorConfigurations.Unmonitored);
        var dense = runs.Select(r => r.Pass(MonitorConfigurations.Dense)!).ToArray();
        var denseProbes = dense.SelectMany(p => p.Probes).Where(p => p.Succeeded).ToArray();
        double curvature = runs.Sum(r => r.StepSignals.TryGetValue(BatchCurvatureSensor.SensorMilliseconds, out var ms) ? ms.Where(double.IsFinite).Sum() / 1000 : 0);
        return new Overhead(
            group,
            runs.Length,
            plain / runs.Length,
            (Cpu(MonitorConfigurations.Default) / plain) - 1,
            (Cpu(MonitorConfigurations.Dense) / plain) - 1,
            Math.Max(0, dense.Sum(p => p.SensorSeconds) - curvature) / plain,
            runs.Average(r => r.Pass(MonitorConfigurations.Default)!.Probes.Count),
            dense.Average(p => p.Probes.Count),
            denseProbes.Length == 0 ? double.NaN : denseProbes.Average(p => p.Hvps),
            curvature / plain,
            Relative(MonitorConfigurations.Curvature),
            Relative(MonitorConfigurations.CurvatureEvery5));
        double Relative(string configuration) => runs.All(r => r.Pass(configuration) is not null) ? (Cpu(configuration) / plain) - 1 : double.NaN;
    }

    /// <summary>Writes report.md, results.json and the charts to <paramref name="folder"/>, and the report to stdout.</summary>
    public static void Write(DetectionResults results, IReadOnlyList<RecordedRun> runs, string folder, Stopwatch total)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(total);
        Directory.CreateDirectory(folder);
        var charts = DetectionCharts.Write(results, folder);
        string markdown = Markdown(results, total.Elapsed, charts);
        File.WriteAllText(Path.Combine(folder, "report.md"), markdown);
        File.WriteAllText(Path.Combine(folder, "results.json"), Json(results, total.Elapsed));
        Console.Write(markdown);
        Console.WriteLine($"wrote {Path.Combine(folder, "report.md")}, results.json and {charts.Count} charts; traces in {Path.Combine(folder, "traces")}");
        _ = runs;
    }

    /// <summary>The rows of the headline table for one family: the monitor, the baselines and each family's choice.</summary>
    public static IReadOnlyList<DetectorResult> HeadlineRows(DetectionResults results, string family) =>
        [.. results.Detectors.Where(d => d.SelectedFor.Contains(family))];

    private static string Markdown(DetectionResults results, TimeSpan elapsed, IReadOnlyList<string> charts)
    {
        var o = new StringBuilder();
        var overhead = results.Overheads.ToDictionary(x => x.Group);
        string Pct(double v) => double.IsNaN(v) ? "–" : (100 * v).ToString(v < 0.1 ? "F1" : "F0", CultureInfo.InvariantCulture) + "%";
        string Num(double v, string format = "F2") => double.IsNaN(v) ? "–" : v.ToString(format, CultureInfo.InvariantCulture);

        o.AppendLine(CultureInfo.InvariantCulture, $"Mode {results.Context.Mode}: {results.Scored.Count + results.EarlyDivergence.Count} runs ({results.Scored.Count} scored, {results.EarlyDivergence.Count} diverged within {EarlyDivergenceSteps} steps), {results.Context.Workers} worker processes, one torch thread each; wall time {elapsed.TotalMinutes:F1} min; load average at start {results.Context.LoadAverageAtStart}, at end {DetectionBenchmark.LoadAverage()}.");
        o.AppendLine();
        foreach (string family in Families)
        {
            var report = results.Scored.Where(r => r.Setting.Family == family && r.Role == SeedRole.Report).ToArray();
            if (report.Length == 0)
            {
                continue;
            }

            int Spikes(string d) => report.Sum(r => results.Spikes[r.Name][d].Count);
            int Stable(string d) => report.Count(r => results.Spikes[r.Name][d].Count == 0);
            string cost = overhead.TryGetValue(family, out var ov)
                ? string.Create(CultureInfo.InvariantCulture, $"CPU overhead: default options {Pct(ov.Default)}, batch curvature (opt-in) {Pct(ov.Curvature)}, read every 5 steps {Pct(ov.CurvatureEvery5)}, dense probing {Pct(ov.Dense)}, step sensors {Pct(ov.Sensor)}, batch-curvature sensor {Pct(ov.BatchCurvature)}")
                : "";
            o.AppendLine(CultureInfo.InvariantCulture, $"### {family}: held-out seeds, material spikes, H = 100");
            o.AppendLine();
            o.AppendLine(CultureInfo.InvariantCulture, $"{report.Length} report runs, {report.Sum(r => (long)r.StepsRun)} steps; material spikes {Spikes(SpikeDefinitions.MaterialName)} ({Stable(SpikeDefinitions.MaterialName)} runs without), library spikes {Spikes(SpikeDefinitions.LibraryName)} ({Stable(SpikeDefinitions.LibraryName)} runs without). {cost}.");
            o.AppendLine();
            o.AppendLine("| detector | threshold (tuned on seed 1) | recall H=100 | median lead | recall H=25 | precision H=100 | stable runs alarmed | false onsets / 1000 steps | time on | CPU overhead |");
            o.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
            foreach (var d in HeadlineRows(results, family).OrderBy(d => Order(d.Detector)))
            {
                var m = d.ByFamily[family].Report[Headline];
                if (m.Runs == 0)
                {
                    // An optional indicator (an estimator outside the default set) that no trace of this family has.
                    continue;
                }

                var m25 = d.ByFamily[family].Report["material/25"];
                string threshold = d.Detector is MonitorLevelDetector ? "as run" : d.Detector.Threshold?.ToString("G4", CultureInfo.InvariantCulture) ?? "–";
                double cpu = ov?.Of(d.Detector.Cost) ?? double.NaN;
                o.AppendLine(CultureInfo.InvariantCulture, $"| {d.Detector.Family.Replace(" ≥ x", "", StringComparison.Ordinal).Replace(" ≤ x", " ≤", StringComparison.Ordinal)} | {threshold} | {Num(m.Recall)} ({m.WarnedSpikes}/{m.Spikes}) | {Num(m.MedianLead, "F0")} | {Num(m25.Recall)} | {Num(m.Precision)} ({m.TrueOnsets}/{m.Onsets}) | {m.StableRunsAlarmed}/{m.StableRuns} | {Num(m.FalseOnsetsPer1000Steps)} | {Pct(m.TimeOn)} | {Pct(cpu)} |");
            }

            o.AppendLine();
        }

        o.AppendLine("### The monitor and the baselines under the library's spike definition (held-out seeds)");
        o.AppendLine();
        o.AppendLine("| detector | family | recall H=100 | recall H=25 | median lead H=100 | precision H=100 | stable runs alarmed | false onsets / 1000 steps |");
        o.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (string family in Families)
        {
            foreach (var d in results.Detectors.Where(d => d.Detector.Threshold is null || d.Detector.Family.StartsWith("ZClip", StringComparison.Ordinal)))
            {
                if (!d.ByFamily.TryGetValue(family, out var s) || s.Report["library/100"].Runs == 0)
                {
                    continue;
                }

                var m = s.Report["library/100"];
                o.AppendLine(CultureInfo.InvariantCulture, $"| {d.Detector.Name} | {family} | {Num(m.Recall)} ({m.WarnedSpikes}/{m.Spikes}) | {Num(s.Report["library/25"].Recall)} | {Num(m.MedianLead, "F0")} | {Num(m.Precision)} | {m.StableRunsAlarmed}/{m.StableRuns} | {Num(m.FalseOnsetsPer1000Steps)} |");
            }
        }

        o.AppendLine();
        WriteSetupTable(o, results, Num);
        WriteOverheadTable(o, results, Pct, Num);
        WriteEarlyDivergence(o, results);
        WriteCalibration(o, results, Num);
        o.AppendLine("Charts: " + string.Join(", ", charts.Select(Path.GetFileName)));
        o.AppendLine();
        return o.ToString();
    }

    private static int Order(IDetector d) => d switch
    {
        MonitorLevelDetector m => (m.Configuration == MonitorConfigurations.Default ? 0 : 2) + (m.Minimum == AlertLevel.Warning ? 0 : 1),
        StepZScoreDetector { Cost: DetectorCost.Free } => 4,
        StepZScoreDetector => 5,
        _ => 6,
    };

    private static void WriteSetupTable(StringBuilder o, DetectionResults results, Func<double, string, string> num)
    {
        var defaults = results.Detectors.First(d => d.Detector is MonitorLevelDetector { Configuration: MonitorConfigurations.Default, Minimum: AlertLevel.Warning }).Detector;
        var dense = results.Detectors.First(d => d.Detector is MonitorLevelDetector { Configuration: MonitorConfigurations.Dense, Minimum: AlertLevel.Warning }).Detector;
        var zclip = results.Detectors.First(d => d.Detector.Family.StartsWith("ZClip", StringComparison.Ordinal)).Detector;
        o.AppendLine("### Per setup (held-out seeds; material spikes, H = 100; alarms: Warning or Critical)");
        o.AppendLine();
        o.AppendLine("| setting | runs | material spikes | library spikes | runs with a material spike | default options: warned / onsets | dense: warned / precision / stable alarmed | ZClip-style: warned / precision | CPU ×, default / dense |");
        o.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var group in results.Scored.Where(r => r.Role == SeedRole.Report).GroupBy(r => r.Setting).OrderBy(g => g.Key.Setup, StringComparer.Ordinal).ThenBy(g => g.Key.LearningRate))
        {
            var runs = group.ToArray();
            DetectorMetrics M(IDetector d) => DetectionScoring.Aggregate([.. runs.Where(d.Applies).Select(r => DetectionScoring.Score(d.Alarm(r), results.Spikes[r.Name][SpikeDefinitions.MaterialName], 100))]);
            var (md, mn, mz) = (M(defaults), M(dense), M(zclip));
            int material = runs.Sum(r => results.Spikes[r.Name][SpikeDefinitions.MaterialName].Count);
            double plain = runs.Sum(r => r.Pass(MonitorConfigurations.Unmonitored)?.CpuSeconds ?? double.NaN);
            double Ratio(string c) => runs.Sum(r => r.Pass(c)?.CpuSeconds ?? double.NaN) / plain;
            o.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key.Name} | {runs.Length} | {material} | {runs.Sum(r => results.Spikes[r.Name][SpikeDefinitions.LibraryName].Count)} | {runs.Count(r => results.Spikes[r.Name][SpikeDefinitions.MaterialName].Count > 0)} | {md.WarnedSpikes}/{material}, {md.Onsets} | {mn.WarnedSpikes}/{material}, {num(mn.Precision, "F2")}, {mn.StableRunsAlarmed}/{mn.StableRuns} | {mz.WarnedSpikes}/{material}, {num(mz.Precision, "F2")} | {num(Ratio(MonitorConfigurations.Default), "F2")} / {num(Ratio(MonitorConfigurations.Dense), "F1")} |");
        }

        o.AppendLine();
    }

    private static void WriteOverheadTable(StringBuilder o, DetectionResults results, Func<double, string> pct, Func<double, string, string> num)
    {
        var passes = results.Scored.SelectMany(r => r.Passes).ToArray();
        o.AppendLine(CultureInfo.InvariantCulture, $"### CPU overhead (process CPU time of the same run monitored vs not, held-out seeds; {passes.Count(p => p.SameLosses)} of {passes.Length} passes trained bit-identically to their unmonitored pass)");
        o.AppendLine();
        o.AppendLine("| group | runs | unmonitored CPU s / run | default options | default + batch curvature (opt-in) | batch curvature every 5 steps, no probes | dense probing | step sensors | batch-curvature sensor | probes / run, default | probes / run, dense | HVPs / dense probe |");
        o.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var x in results.Overheads)
        {
            o.AppendLine(CultureInfo.InvariantCulture, $"| {x.Group} | {x.Runs} | {num(x.UnmonitoredCpuSeconds, "F1")} | {pct(x.Default)} | {pct(x.Curvature)} | {pct(x.CurvatureEvery5)} | {pct(x.Dense)} | {pct(x.Sensor)} | {pct(x.BatchCurvature)} | {num(x.DefaultProbes, "F1")} | {num(x.DenseProbes, "F0")} | {num(x.HvpsPerProbe, "F1")} |");
        }

        o.AppendLine();
    }

    private static void WriteEarlyDivergence(StringBuilder o, DetectionResults results)
    {
        o.AppendLine(CultureInfo.InvariantCulture, $"### Runs that diverged within {EarlyDivergenceSteps} steps (listed, not scored): {results.EarlyDivergence.Count}");
        o.AppendLine();
        foreach (var r in results.EarlyDivergence)
        {
            o.AppendLine(CultureInfo.InvariantCulture, $"- {r.Name}: non-finite loss at step {r.StepsRun - 1}");
        }

        o.AppendLine();
    }

    /// <summary>
    /// Why the material bar is 0.1 of the initial loss: on every scored run, the doublings of the window mean that do
    /// not reach the bar, against those that do.
    /// </summary>
    private static void WriteCalibration(StringBuilder o, DetectionResults results, Func<double, string, string> num)
    {
        o.AppendLine("### Material-spike calibration (all scored runs): rise of the 5-step mean over its 100-step minimum, in units of the initial loss, at steps where it at least doubled");
        o.AppendLine();
        o.AppendLine("| workload | runs | steps with a doubling | median rise | 90th percentile | largest rise below the 0.1 bar | steps at or above the bar |");
        o.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var group in results.Scored.GroupBy(r => r.Setting.WorkloadName).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var rises = new List<double>();
            foreach (var run in group)
            {
                var losses = run.Losses;
                var means = SpikeDefinitions.WindowMeans(losses, SpikeDefinitions.Window);
                double initial = losses.Take(SpikeDefinitions.Window).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
                for (int t = SpikeDefinitions.BurnIn; t < means.Length; t++)
                {
                    double recent = means.Skip(Math.Max(0, t - SpikeDefinitions.RecentSteps)).Take(Math.Min(t, SpikeDefinitions.RecentSteps)).Min();
                    if (double.IsFinite(means[t]) && means[t] >= SpikeDefinitions.Factor * recent)
                    {
                        rises.Add((means[t] - recent) / initial);
                    }
                }
            }

            var sorted = rises.Order().ToArray();
            double Quantile(double q) => sorted.Length == 0 ? double.NaN : sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(q * sorted.Length))];
            o.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key} | {group.Count()} | {sorted.Length} | {num(Quantile(0.5), "F3")} | {num(Quantile(0.9), "F3")} | {num(sorted.Where(r => r < SpikeDefinitions.MaterialFraction).DefaultIfEmpty(double.NaN).Max(), "F3")} | {sorted.Count(r => r >= SpikeDefinitions.MaterialFraction)} |");
        }

        o.AppendLine();
    }

    private static string Json(DetectionResults results, TimeSpan elapsed)
    {
        static double? F(double v) => double.IsFinite(v) ? Math.Round(v, 6) : null;
        static object Metrics(DetectorMetrics m) => new
        {
            runs = m.Runs,
            steps = m.Steps,
            spikes = m.Spikes,
            warned_spikes = m.WarnedSpikes,
            recall = F(m.Recall),
            median_lead_steps = F(m.MedianLead),
            onsets = m.Onsets,
            true_onsets = m.TrueOnsets,
            precision = F(m.Precision),
            false_onsets_per_1000_steps = F(m.FalseOnsetsPer1000Steps),
            stable_runs = m.StableRuns,
            stable_runs_alarmed = m.StableRunsAlarmed,
            time_on = F(m.TimeOn),
        };
        var overhead = results.Overheads.ToDictionary(x => x.Group);
        var document = new
        {
            command = "dotnet run -c Release --project benchmarks -- detection",
            date = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            mode = results.Context.Mode,
            processors = Environment.ProcessorCount,
            workers = results.Context.Workers,
            torch_threads_per_run = 1,
            load_average_at_start = results.Context.LoadAverageAtStart,
            load_average_at_end = DetectionBenchmark.LoadAverage(),
            wall_time_seconds = Math.Round(elapsed.TotalSeconds, 1),
            tune_seeds = DetectionPlan.TuneSeeds,
            report_seeds = DetectionPlan.ReportSeeds,
            configurations = new
            {
                unmonitored = "no monitor",
                @default = "new StabilityMonitorOptions()",
                dense = $"ProbeInterval {MonitorConfigurations.DenseInterval}, OverheadBudget 1 (default estimators and rules otherwise)",
            },
            spike_definitions = new
            {
                library = "Spikes.Onsets: loss > 2x its running minimum after a burn-in of 20 steps",
                material = $"5-step mean loss >= {SpikeDefinitions.Factor}x its minimum over the previous {SpikeDefinitions.RecentSteps} steps AND that rise >= {SpikeDefinitions.MaterialFraction} x the initial loss; new onset after {SpikeDefinitions.Separation} quiet steps; burn-in {SpikeDefinitions.BurnIn}",
            },
            scoring = "alarm onsets only: a spike at t is warned when an onset lies in [t-H, t-1] (lead = t - the earliest); precision = onsets followed by a spike within H; false onsets = the others, per 1000 steps; stable runs = runs without a spike; time on = share of steps with the alarm on",
            selection = "per optimizer family, each detector family's threshold with the best F1 of recall and precision on the tune seeds (material spikes, H = 100); ties: less time on",
            early_divergence = results.EarlyDivergence.Select(r => new { name = r.Name, step = r.StepsRun - 1 }),
            overheads = results.Overheads.Select(x => new { group = x.Group, runs = x.Runs, unmonitored_cpu_seconds_per_run = F(x.UnmonitoredCpuSeconds), @default = F(x.Default), dense = F(x.Dense), step_sensors = F(x.Sensor), batch_curvature_sensor = F(x.BatchCurvature), curvature_options = F(x.Curvature), curvature_every_5 = F(x.CurvatureEvery5), default_probes_per_run = F(x.DefaultProbes), dense_probes_per_run = F(x.DenseProbes), hvps_per_dense_probe = F(x.HvpsPerProbe) }),
            detectors = results.Detectors.Select(d => new
            {
                name = d.Detector.Name,
                family = d.Detector.Family,
                threshold = d.Detector.Threshold,
                cost = d.Detector.Cost.ToString(),
                selected_for = d.SelectedFor,
                scores = d.ByFamily.ToDictionary(f => f.Key, f => new
                {
                    cpu_overhead = overhead.TryGetValue(f.Key, out var ov) ? F(ov.Of(d.Detector.Cost)) : null,
                    tune_material_100 = Metrics(f.Value.Tune),
                    report = f.Value.Report.ToDictionary(k => k.Key, k => Metrics(k.Value)),
                }),
            }),
            runs = results.Scored.Select(r => new
            {
                name = r.Name,
                setting = r.Setting.Name,
                family = r.Setting.Family,
                seed = r.Seed,
                role = r.Role.ToString(),
                parameters = r.ParameterCount,
                steps = r.StepsRun,
                diverged = r.Diverged,
                material_spikes = results.Spikes[r.Name][SpikeDefinitions.MaterialName],
                library_spikes = results.Spikes[r.Name][SpikeDefinitions.LibraryName].Count,
                passes = r.Passes.Select(p => new { configuration = p.Configuration, cpu_seconds = F(p.CpuSeconds), wall_seconds = F(p.WallSeconds), probes = p.Probes.Count, same_losses = p.SameLosses }),
            }),
        };
        return JsonSerializer.Serialize(document, TraceJson.Indented);
    }
}
