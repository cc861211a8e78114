using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using SpectralMonitor.Backoff;
using SpectralMonitor.Reference.Monitoring;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>One run of the suite: a model, an optimizer, a fixed learning rate and a seed.</summary>
/// <param name="Model">The model and data.</param>
/// <param name="Optimizer">The optimizer family.</param>
/// <param name="LearningRate">The learning rate (fixed from the sweep).</param>
/// <param name="Seed">Initialization seed.</param>
internal sealed record SuiteRun(SuiteModel Model, SuiteOptimizer Optimizer, double LearningRate, int Seed)
{
    public RunSpec Spec => DetectionSuite.Spec(Model, Optimizer, LearningRate, Seed);
}

/// <summary>
/// The detection benchmark (<c>dotnet run -c Release --project benchmarks -- detection</c>): trains the suite with a
/// densely probing monitor and no rules, scores every detector offline on the recorded probes and steps, evaluates
/// the monitor's default rule set through a real <see cref="StabilityMonitor"/> in a second pass, and reruns the
/// spiking runs with learning-rate backoff on. Writes benchmarks/Detection/results.json and detection.svg.
/// </summary>
internal static class DetectionBenchmark
{
    /// <summary>Warm-up: nothing before this step counts as a warning or an alarm (the spike burn-in).</summary>
    public const int Warmup = Spikes.DefaultBurnIn;

    private const string DefaultRulesName = "default rules (monitor)";
    private const string DefaultCriticalName = "default rules, Critical only (monitor)";

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The learning rates, fixed from <c>detection sweep</c> (unmonitored full-batch runs, seed 1, grids
    /// SGD-m {0.05 … 3} and Adam/AdamW {0.003 … 0.5}; the sweep's table is in benchmarks/RESULTS.md). Per model and
    /// optimizer they go from clearly stable through the last stable rate to rates that spike without diverging; the
    /// first diverging SGD-m rate of the regression models is included and reported separately.
    /// </summary>
    private static IReadOnlyList<SuiteRun> Runs()
    {
        var reg2 = DetectionSuite.Models[0];
        var reg3 = DetectionSuite.Models[1];
        var cls2 = DetectionSuite.Models[2];
        var cls3 = DetectionSuite.Models[3];
        var (sgd, adam, adamw) = (DetectionSuite.Sgd, DetectionSuite.Adam, DetectionSuite.AdamW);
        (SuiteModel, SuiteOptimizer, double[])[] grid =
        [
            // reg 4-16-1: SGD-m stable ≤ 0.4, spikes at 0.5, diverges from 0.6; Adam/AdamW spike-free ≤ 0.03, spike 0.05–0.3.
            (reg2, sgd, [0.2, 0.4, 0.5, 0.6]),
            (reg2, adam, [0.01, 0.03, 0.05, 0.1]),
            (reg2, adamw, [0.01, 0.03, 0.05, 0.1]),

            // reg 4-16-16-1: SGD-m stable ≤ 0.2, spikes at 0.3, diverges from 0.4; Adam spike-free ≤ 0.02; AdamW ≤ 0.01.
            (reg3, sgd, [0.1, 0.2, 0.3, 0.4]),
            (reg3, adam, [0.01, 0.02, 0.03, 0.05]),
            (reg3, adamw, [0.01, 0.02, 0.05]),

            // cls 2-16-3: SGD-m spike-free ≤ 1.5, spikes at 2–3; Adam spike-free up to 0.5; AdamW spike-free ≤ 0.2, spikes at 0.3–0.5.
            (cls2, sgd, [0.5, 1.5, 2.0, 3.0]),
            (cls2, adam, [0.05, 0.5]),
            (cls2, adamw, [0.1, 0.2, 0.3, 0.5]),

            // cls 2-12-12-3: SGD-m spike-free ≤ 0.3, spikes 0.4–1.5; Adam spike-free ≤ 0.05; AdamW spike-free ≤ 0.05.
            (cls3, sgd, [0.2, 0.3, 0.4, 0.6]),
            (cls3, adam, [0.02, 0.05, 0.1, 0.3]),
            (cls3, adamw, [0.05, 0.2]),
        ];
        return [.. grid.SelectMany(g => g.Item3.Select(lr => new SuiteRun(g.Item1, g.Item2, lr, Seed: 1)))];
    }

    /// <summary>The monitor options of the recording pass: dense probes, every cheap estimator, no rules.</summary>
    private static StabilityMonitorOptions RecordingOptions(string name) => new()
    {
        RunName = name,
        ProbeInterval = 5,
        FirstProbeStep = 0,
        OverheadBudget = 1,
        BringForwardOnTrend = false,
        Estimators = ProbeEstimators.Sharpness | ProbeEstimators.Modes | ProbeEstimators.SpectralDensity | ProbeEstimators.WeightSingularValues,
        Rules = [],
    };

    /// <summary>The options of the default-rules passes: the same cadence, the default estimators and rules.</summary>
    private static StabilityMonitorOptions DefaultRuleOptions(string name, bool backoff) => new()
    {
        RunName = name,
        ProbeInterval = 5,
        FirstProbeStep = 0,
        OverheadBudget = 1,
        BringForwardOnTrend = false,
        Backoff = backoff ? new BackoffOptions() : null,
    };

    public static int Run(string[] args)
    {
        if (args.FirstOrDefault() == "sweep")
        {
            DetectionSweep.Run();
            return 0;
        }

        var total = Stopwatch.StartNew();
        var runs = Runs();
        int workers = Math.Min(2, Environment.ProcessorCount);
        Console.Error.WriteLine($"detection: {runs.Count} runs, {workers} worker(s)");

        // Pass 1: record every probe with no rules. Pass 2: the default rules through a real monitor (level per step).
        var records = new RunRecord[runs.Count];
        var levels = new AlertLevel[runs.Count][];
        Parallel.For(0, runs.Count, new ParallelOptions { MaxDegreeOfParallelism = workers }, i =>
        {
            var spec = runs[i].Spec;
            records[i] = MonitoredRun.Execute(spec, RecordingOptions(spec.Name));
            var perStep = new List<AlertLevel>(spec.Steps);
            var second = MonitoredRun.Execute(spec, DefaultRuleOptions(spec.Name, backoff: false), progress: p => perStep.Add(p.Monitor!.Level));
            levels[i] = [.. perStep];
            CheckSameTraining(records[i], second);
            var r = records[i];
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  [{i + 1,2}/{runs.Count}] {spec.Name,-40} {Classify(r),-8} spikes {r.SpikeOnsets.Count,2} first {r.FirstSpike?.ToString(CultureInfo.InvariantCulture) ?? "-",4}  {r.Elapsed.TotalSeconds + second.Elapsed.TotalSeconds,5:F1} s"));
        });

        var scored = Enumerable.Range(0, runs.Count).Where(i => !records[i].Diverged).ToArray();
        var diverged = Enumerable.Range(0, runs.Count).Where(i => records[i].Diverged).ToArray();

        // Pass 3: spiking runs again with the default rules driving learning-rate backoff.
        var spiking = scored.Where(i => records[i].FirstSpike is not null).ToArray();
        var backedOff = new RunRecord[runs.Count];
        var backoffEvents = new int[runs.Count];
        Parallel.ForEach(spiking, new ParallelOptions { MaxDegreeOfParallelism = workers }, i =>
        {
            var spec = runs[i].Spec;
            double previousFactor = 1;
            int events = 0;
            backedOff[i] = MonitoredRun.Execute(spec, DefaultRuleOptions(spec.Name, backoff: true), progress: p =>
            {
                events += p.Monitor!.BackoffFactor < previousFactor ? 1 : 0;
                previousFactor = p.Monitor.BackoffFactor;
            });
            backoffEvents[i] = events;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  backoff {spec.Name,-40} spikes {records[i].SpikeOnsets.Count,2} -> {backedOff[i].SpikeOnsets.Count,2}"));
        });

        // Score every detector on the non-diverged runs.
        var results = new List<(string Name, string Family, DetectorMetrics Metrics, double? Threshold)>();
        var byOptimizer = new List<(string Name, DetectorMetrics Sgd, DetectorMetrics Adaptive)>();
        bool IsSgd(int i) => runs[i].Optimizer == DetectionSuite.Sgd;
        void Add(string name, string family, double? threshold, RunScore[] scores)
        {
            results.Add((name, family, DetectionScoring.Aggregate(scores), threshold));
            byOptimizer.Add((name, DetectionScoring.Aggregate([.. scores.Where((_, k) => IsSgd(scored[k]))]), DetectionScoring.Aggregate([.. scores.Where((_, k) => !IsSgd(scored[k]))])));
        }

        foreach (var detector in Detector.All)
        {
            Add(detector.Name, detector.Family, detector.Threshold, [.. scored.Select(i => DetectionScoring.Score(detector.Evaluate(records[i]), records[i].FirstSpike, records[i].Losses.Count, Warmup))]);
        }

        foreach (var (name, minimum) in new[] { (DefaultRulesName, AlertLevel.Warning), (DefaultCriticalName, AlertLevel.Critical) })
        {
            Add(name, "default rules", null, [.. scored.Select(i =>
            {
                var readings = levels[i].Select((level, t) => new DetectorReading(t, level >= minimum)).ToArray();
                return DetectionScoring.Score(readings, records[i].FirstSpike, records[i].Losses.Count, Warmup);
            })]);
        }

        total.Stop();
        var output = new StringBuilder();
        WriteDetectorTable(output, results);
        WriteOptimizerTable(output, byOptimizer);
        WriteRunTable(output, runs, records, scored, diverged);
        WriteBackoffTable(output, runs, records, backedOff, backoffEvents, spiking);
        output.AppendLine(CultureInfo.InvariantCulture, $"runs {runs.Count} ({scored.Length} scored: {spiking.Length} spiking, {scored.Length - spiking.Length} stable; {diverged.Length} diverged), warm-up step {Warmup}, workers {workers}, total wall time {total.Elapsed.TotalSeconds:F1} s");
        Console.Write(output.ToString());

        string folder = Path.Combine(RepositoryRoot(), "benchmarks", "Detection");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "results.json"), Json(results, byOptimizer, runs, records, backedOff, scored, diverged, spiking, total.Elapsed));
        File.WriteAllText(Path.Combine(folder, "detection.svg"), DetectionFigure.Render(results.Select(r => (r.Name, r.Family, r.Metrics)).ToArray()));
        Console.WriteLine($"wrote {Path.Combine(folder, "results.json")} and detection.svg");
        return 0;
    }

    private static string Classify(RunRecord r) => r.Diverged ? "diverged" : r.FirstSpike is null ? "stable" : "spiking";

    /// <summary>The monitor without backoff must not change training: both passes see the same losses.</summary>
    private static void CheckSameTraining(RunRecord first, RunRecord second)
    {
        if (!first.Losses.SequenceEqual(second.Losses))
        {
            throw new InvalidOperationException($"{first.Spec.Name}: the default-rules pass trained differently from the recording pass.");
        }
    }

    private static void WriteDetectorTable(StringBuilder o, List<(string Name, string Family, DetectorMetrics Metrics, double? Threshold)> results)
    {
        o.AppendLine("| detector | family | recall | warned / spiking | median lead (steps) | min lead | false alarms / 1000 steps | stable runs alarmed |");
        o.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var (name, family, m, _) in results)
        {
            o.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {family} | {m.Recall:F2} | {m.WarnedRuns} / {m.SpikingRuns} | {Num(m.MedianLead)} | {Num(m.MinimumLead)} | {m.FalseAlarmsPer1000Steps:F2} | {m.StableRunsAlarmed} / {m.StableRuns} |");
        }

        o.AppendLine();
    }

    private static void WriteOptimizerTable(StringBuilder o, List<(string Name, DetectorMetrics Sgd, DetectorMetrics Adaptive)> rows)
    {
        o.AppendLine("| detector | SGD-m recall | SGD-m median lead | SGD-m false alarms / 1000 | Adam(W) recall | Adam(W) median lead | Adam(W) false alarms / 1000 |");
        o.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var (name, sgd, adaptive) in rows)
        {
            o.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {sgd.Recall:F2} ({sgd.WarnedRuns}/{sgd.SpikingRuns}) | {Num(sgd.MedianLead)} | {sgd.FalseAlarmsPer1000Steps:F2} ({sgd.StableRunsAlarmed}/{sgd.StableRuns} runs) | {adaptive.Recall:F2} ({adaptive.WarnedRuns}/{adaptive.SpikingRuns}) | {Num(adaptive.MedianLead)} | {adaptive.FalseAlarmsPer1000Steps:F2} ({adaptive.StableRunsAlarmed}/{adaptive.StableRuns} runs) |");
        }

        o.AppendLine();
    }

    private static void WriteRunTable(StringBuilder o, IReadOnlyList<SuiteRun> runs, RunRecord[] records, int[] scored, int[] diverged)
    {
        o.AppendLine("| run | class | spikes | first spike | max sharpness/edge | final loss | seconds |");
        o.AppendLine("|---|---|---|---|---|---|---|");
        foreach (int i in scored.Concat(diverged))
        {
            var r = records[i];
            double maxEdge = r.Probes.Where(p => p.Status == ProbeStatus.Succeeded && p.Step >= Warmup)
                .Select(p => p.Indicators.TryGetValue(Indicators.SharpnessToEdge, out double v) ? v : double.NaN)
                .Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();
            o.AppendLine(CultureInfo.InvariantCulture, $"| {runs[i].Spec.Name} | {Classify(r)} | {r.SpikeOnsets.Count} | {r.FirstSpike?.ToString(CultureInfo.InvariantCulture) ?? "–"} | {maxEdge:G3} | {r.FinalLoss:G3} | {r.Elapsed.TotalSeconds:F1} |");
        }

        o.AppendLine();
    }

    private static void WriteBackoffTable(StringBuilder o, IReadOnlyList<SuiteRun> runs, RunRecord[] records, RunRecord[] backedOff, int[] events, int[] spiking)
    {
        o.AppendLine("| spiking run | spikes off | spikes on | final loss off | final loss on | backoffs | final lr / base |");
        o.AppendLine("|---|---|---|---|---|---|---|");
        foreach (int i in spiking)
        {
            var (off, on) = (records[i], backedOff[i]);
            o.AppendLine(CultureInfo.InvariantCulture, $"| {runs[i].Spec.Name} | {off.SpikeOnsets.Count} | {on.SpikeOnsets.Count}{(on.Diverged ? " (diverged)" : "")} | {off.FinalLoss:G3} | {on.FinalLoss:G3} | {events[i]} | {on.LearningRates[^1] / on.LearningRates[0]:G3} |");
        }

        double Mean(Func<int, double> f) => spiking.Length == 0 ? double.NaN : spiking.Average(f);
        double MedianOf(Func<int, double> f) => DetectionScoring.Median([.. spiking.Select(f)]);
        o.AppendLine(CultureInfo.InvariantCulture, $"| **mean spikes per run / median final loss** | {Mean(i => records[i].SpikeOnsets.Count):F2} | {Mean(i => backedOff[i].SpikeOnsets.Count):F2} | {MedianOf(i => records[i].FinalLoss):G3} | {MedianOf(i => backedOff[i].FinalLoss):G3} | | |");
        o.AppendLine();
    }

    private static string Num(double value) => double.IsNaN(value) ? "–" : value.ToString("G4", CultureInfo.InvariantCulture);

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    private static string Json(
        List<(string Name, string Family, DetectorMetrics Metrics, double? Threshold)> results,
        List<(string Name, DetectorMetrics Sgd, DetectorMetrics Adaptive)> byOptimizer,
        IReadOnlyList<SuiteRun> runs,
        RunRecord[] records,
        RunRecord[] backedOff,
        int[] scored,
        int[] diverged,
        int[] spiking,
        TimeSpan elapsed)
    {
        var document = new Dictionary<string, object?>
        {
            ["command"] = "dotnet run -c Release --project benchmarks -- detection",
            ["date"] = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            ["processors"] = Environment.ProcessorCount,
            ["wall_time_seconds"] = Math.Round(elapsed.TotalSeconds, 1),
            ["warmup_step"] = Warmup,
            ["spike_definition"] = $"Spikes.Onsets: loss > {Spikes.DefaultFactor}x running minimum after a burn-in of {Spikes.DefaultBurnIn} steps",
            ["probe_interval"] = 5,
            ["warning_definition"] = "detector on at a step >= warmup and strictly before the first spike onset; lead = first spike - first such step",
            ["false_alarm_definition"] = "alarm onsets (off -> on) at steps >= warmup on runs that never spike, per 1000 steps >= warmup",
            ["detectors"] = results.Select((r, k) => (r, k)).ToDictionary(p => p.r.Name, p => (object)new Dictionary<string, object?>
            {
                ["family"] = p.r.Family,
                ["threshold"] = p.r.Threshold,
                ["all"] = MetricsJson(p.r.Metrics),
                ["sgd_momentum"] = MetricsJson(byOptimizer[p.k].Sgd),
                ["adam_adamw"] = MetricsJson(byOptimizer[p.k].Adaptive),
            }),
            ["runs"] = scored.Concat(diverged).Select(i => new Dictionary<string, object?>
            {
                ["name"] = runs[i].Spec.Name,
                ["class"] = Classify(records[i]),
                ["spikes"] = records[i].SpikeOnsets.Count,
                ["first_spike"] = records[i].FirstSpike,
                ["final_loss"] = Finite(records[i].FinalLoss),
                ["backoff_spikes"] = spiking.Contains(i) ? backedOff[i].SpikeOnsets.Count : null,
                ["backoff_final_loss"] = spiking.Contains(i) ? Finite(backedOff[i].FinalLoss) : null,
            }).ToArray(),
        };
        return JsonSerializer.Serialize(document, JsonOptions);
    }

    private static Dictionary<string, object?> MetricsJson(DetectorMetrics m) => new()
    {
        ["recall"] = Finite(m.Recall),
        ["warned_runs"] = m.WarnedRuns,
        ["spiking_runs"] = m.SpikingRuns,
        ["median_lead_steps"] = Finite(m.MedianLead),
        ["min_lead_steps"] = Finite(m.MinimumLead),
        ["false_alarms_per_1000_steps"] = Finite(m.FalseAlarmsPer1000Steps),
        ["false_alarm_onsets"] = m.FalseAlarmOnsets,
        ["stable_runs"] = m.StableRuns,
        ["stable_runs_alarmed"] = m.StableRunsAlarmed,
        ["stable_steps"] = m.StableSteps,
    };

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Monitor.sln")))
            {
                return dir.FullName;
            }
        }

        return Environment.CurrentDirectory;
    }
}
