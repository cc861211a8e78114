using System.Globalization;
using ScottPlot;
using SpectralMonitor.Examples.Workloads;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// The SVG charts of the benchmark (ScottPlot 5): recall against false alarms and against CPU overhead per detector
/// (held-out seeds, material spikes, H = 100, one panel per optimizer family), and the trace of one Adam GPT run that
/// spikes and one that does not (loss, sharpness over its edge, smallest attention entropy, alarm states).
/// </summary>
internal static class DetectionCharts
{
    private const int PanelWidth = 1100;
    private const int PanelHeight = 560;

    /// <summary>Writes the charts into <paramref name="folder"/> and returns their paths.</summary>
    public static IReadOnlyList<string> Write(DetectionResults results, string folder)
    {
        var written = new List<string>();
        void Save(string name, IReadOnlyList<Plot> panels, bool sideBySide, int width, int height)
        {
            string path = Path.Combine(folder, name);
            File.WriteAllText(path, Compose(panels, sideBySide, width, height));
            written.Add(path);
        }

        Save("recall-vs-false-alarms.svg", [.. DetectionReport.Families.Select(f => RecallVersusFalseAlarms(results, f))], false, PanelWidth, PanelHeight);
        Save("recall-vs-overhead.svg", [.. DetectionReport.Families.Select(f => RecallVersusOverhead(results, f))], false, PanelWidth, PanelHeight);
        var gptAdam = results.Scored.Where(r => r.Setting.Workload == WorkloadKind.CharGpt && r.Setting.Optimizer == OptimizerKind.Adam).ToArray();
        var spiking = gptAdam.Where(r => results.Spikes[r.Name][SpikeDefinitions.MaterialName].Count > 0)
            .OrderByDescending(r => r.Role == SeedRole.Report).ThenByDescending(r => results.Spikes[r.Name][SpikeDefinitions.MaterialName][0]).FirstOrDefault();
        var stable = gptAdam.Where(r => results.Spikes[r.Name][SpikeDefinitions.MaterialName].Count == 0 && !r.Diverged)
            .OrderByDescending(r => r.Role == SeedRole.Report).ThenByDescending(r => r.Setting.LearningRate).FirstOrDefault();
        foreach (var (run, name) in new[] { (spiking, "trace-gpt-adam-spiking.svg"), (stable, "trace-gpt-adam-stable.svg") })
        {
            if (run is not null)
            {
                Save(name, Trace(run, results), false, 1000, 260);
            }
        }

        // The batch-curvature sensor on the digits MLP with Adam: a held-out spiking run and a stable one.
        var mlpAdam = results.Scored.Where(r => r.Setting.Workload == WorkloadKind.DigitsMlp && r.Setting.Optimizer == OptimizerKind.Adam && r.Role == SeedRole.Report
            && r.StepSignals.ContainsKey(BatchCurvatureSensor.ToEdge)).ToArray();
        var curvatureRuns = new[]
        {
            mlpAdam.Where(r => results.Spikes[r.Name][SpikeDefinitions.MaterialName].Count > 0).OrderBy(r => r.Seed).FirstOrDefault(),
            mlpAdam.Where(r => results.Spikes[r.Name][SpikeDefinitions.MaterialName].Count == 0).OrderBy(r => r.Seed).FirstOrDefault(),
        }.OfType<RecordedRun>().ToArray();
        if (curvatureRuns.Length > 0)
        {
            Save("trace-mlp-adam-batch-curvature.svg", [.. curvatureRuns.SelectMany(r => BatchCurvatureTrace(r, results))], false, 1000, 240);
        }

        return written;
    }

    /// <summary>The smoothed batch-curvature detector the report's screen chose on seed 1 (WARNINGS.md).</summary>
    private static readonly StepSignalDetector SmoothedCurvature = new(BatchCurvatureSensor.ToEdge, StepTransform.Value, 0.1, ReadEvery: 5, HoldSteps: 50, ReadEma: 0.5);

    private static List<Plot> BatchCurvatureTrace(RecordedRun run, DetectionResults results)
    {
        var spikes = results.Spikes[run.Name][SpikeDefinitions.MaterialName];
        double[] steps = [.. Enumerable.Range(0, run.StepsRun).Select(t => (double)t)];
        var loss = new Plot();
        var line = loss.Add.Scatter(steps, run.Losses.Select(v => double.IsFinite(v) && v > 0 ? Math.Log10(v) : double.NaN).ToArray());
        line.MarkerSize = 0;
        line.LegendText = "log10 mini-batch loss";
        loss.Title(string.Create(CultureInfo.InvariantCulture, $"{run.Name}: {spikes.Count} material spike(s) (red)"));
        loss.YLabel("log10 loss");

        var curvature = new Plot();
        var values = run.StepSignals[BatchCurvatureSensor.ToEdge];
        var reads = Enumerable.Range(0, Math.Min(values.Length, run.StepsRun)).Where(t => t % SmoothedCurvature.ReadEvery == 0 && double.IsFinite(values[t])).ToArray();
        var points = curvature.Add.Scatter(reads.Select(t => (double)t).ToArray(), reads.Select(t => values[t]).ToArray());
        points.LineWidth = 0;
        points.MarkerSize = 2;
        points.LegendText = "batch curvature along the update / edge, every 5th step";
        var averaged = SmoothedCurvature.Reads(values);
        var average = curvature.Add.Scatter(reads.Select(t => (double)t).ToArray(), reads.Select(t => averaged[t]).ToArray());
        average.MarkerSize = 0;
        average.LegendText = "EMA over the reads (0.5)";
        var bar = curvature.Add.HorizontalLine(SmoothedCurvature.Value);
        bar.LinePattern = LinePattern.Dotted;
        bar.LegendText = "threshold 0.1 (chosen on seed 1)";
        curvature.Axes.SetLimitsY(0, 0.9);
        curvature.YLabel("c / edge");

        var alarm = SmoothedCurvature.Alarm(run);
        var state = curvature.Add.Scatter(steps, alarm.Select(on => on ? 0.45 : double.NaN).ToArray());
        state.MarkerSize = 0;
        state.LineWidth = 4;
        state.LegendText = "alarm on (held 50 steps)";
        foreach (var p in new[] { loss, curvature })
        {
            foreach (int s in spikes)
            {
                var v = p.Add.VerticalLine(s);
                v.Color = Colors.Red;
                v.LinePattern = LinePattern.Dashed;
            }

            p.ShowLegend(Alignment.UpperRight);
            p.Axes.SetLimitsX(0, run.StepsRun);
        }

        curvature.XLabel("step");
        return [loss, curvature];
    }

    private static Plot RecallVersusFalseAlarms(DetectionResults results, string family)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category20();
        int color = 0;
        foreach (var group in results.Detectors.Where(d => d.ByFamily[family].Report[DetectionReport.Headline].Runs > 0).GroupBy(d => d.Detector.Family))
        {
            var points = group.Select(d => (d, m: d.ByFamily[family].Report[DetectionReport.Headline]))
                .Where(p => double.IsFinite(p.m.Recall))
                .OrderBy(p => p.m.FalseOnsetsPer1000Steps).ToArray();
            if (points.Length == 0)
            {
                continue;
            }

            var scatter = plot.Add.Scatter(points.Select(p => p.m.FalseOnsetsPer1000Steps).ToArray(), points.Select(p => p.m.Recall).ToArray());
            scatter.LegendText = group.Key;
            scatter.Color = palette.GetColor(color++);
            scatter.MarkerSize = group.First().Detector is MonitorLevelDetector ? 11 : 6;
            scatter.LineWidth = points.Length > 1 ? 1 : 0;
            var chosen = points.Where(p => p.d.SelectedFor.Contains(family)).ToArray();
            if (points.Length > 1 && chosen.Length > 0)
            {
                var mark = plot.Add.Scatter(chosen.Select(p => p.m.FalseOnsetsPer1000Steps).ToArray(), chosen.Select(p => p.m.Recall).ToArray());
                mark.Color = scatter.Color;
                mark.MarkerSize = 12;
                mark.MarkerShape = MarkerShape.OpenCircle;
                mark.LineWidth = 0;
            }
        }

        plot.Title($"{family} (held-out seeds)");
        plot.XLabel("false alarm onsets per 1,000 steps (no material spike within 100 steps)");
        plot.YLabel("recall of material spikes, H = 100");
        plot.Axes.SetLimitsY(-0.05, 1.05);
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    private static Plot RecallVersusOverhead(DetectionResults results, string family)
    {
        var plot = new Plot();
        var overhead = results.Overheads.FirstOrDefault(o => o.Group == family);
        var palette = new ScottPlot.Palettes.Category20();
        int color = 0;
        foreach (var d in results.Detectors.Where(d => d.SelectedFor.Contains(family)))
        {
            var m = d.ByFamily[family].Report[DetectionReport.Headline];
            if (!double.IsFinite(m.Recall) || overhead is null)
            {
                continue;
            }

            var point = plot.Add.Scatter(new[] { 1 + overhead.Of(d.Detector.Cost) }, new[] { m.Recall });
            point.LegendText = d.Detector.Family;
            point.Color = palette.GetColor(color++);
            point.MarkerSize = d.Detector is MonitorLevelDetector ? 11 : 7;
        }

        plot.Title($"{family} (held-out seeds)");
        plot.XLabel("CPU time / unmonitored CPU time");
        plot.YLabel("recall of material spikes, H = 100");
        plot.Axes.SetLimitsY(-0.05, 1.05);
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    private static List<Plot> Trace(RecordedRun run, DetectionResults results)
    {
        var spikes = results.Spikes[run.Name][SpikeDefinitions.MaterialName];
        double[] steps = [.. Enumerable.Range(0, run.StepsRun).Select(t => (double)t)];

        var loss = new Plot();
        var line = loss.Add.Scatter(steps, run.Losses.Select(v => double.IsFinite(v) ? v : double.NaN).ToArray());
        line.MarkerSize = 0;
        line.LegendText = "mini-batch loss";
        foreach (int s in spikes)
        {
            var v = loss.Add.VerticalLine(s);
            v.Color = Colors.Red;
            v.LinePattern = LinePattern.Dashed;
        }

        loss.Title(string.Create(CultureInfo.InvariantCulture, $"{run.Name}: {spikes.Count} material spike(s) (red)"));
        loss.YLabel("loss");

        var edge = new Plot();
        var dense = run.Pass(MonitorConfigurations.Dense);
        var probes = dense?.Probes.Where(p => p.Succeeded && p.Indicators.ContainsKey(Indicators.SharpnessToEdge)).ToArray() ?? [];
        if (probes.Length > 0)
        {
            var ratio = edge.Add.Scatter(probes.Select(p => (double)p.Step).ToArray(), probes.Select(p => Math.Log10(Math.Max(1e-6, p.Indicators[Indicators.SharpnessToEdge]))).ToArray());
            ratio.LegendText = "log10 sharpness / edge (dense probes)";
            ratio.MarkerSize = 3;
            var one = edge.Add.HorizontalLine(0);
            one.LinePattern = LinePattern.Dotted;
        }

        foreach (int s in spikes)
        {
            edge.Add.VerticalLine(s).Color = Colors.Red;
        }

        edge.YLabel("log10 λ / edge");

        // The attention entropy the default attention rule reads (recorded every step by the benchmark's logit sensor).
        var attention = new Plot();
        if (run.StepSignals.TryGetValue(LogitSensor.MinAttentionEntropy, out var entropy) && entropy.Any(double.IsFinite))
        {
            var series = attention.Add.Scatter(steps, entropy.Select(v => double.IsFinite(v) ? Math.Log10(Math.Max(1e-6, v)) : double.NaN).ToArray());
            series.MarkerSize = 0;
            series.LegendText = "log10 smallest attention entropy (nats, every step)";
            var warning = attention.Add.HorizontalLine(Math.Log10(DefaultRules.AttentionEntropyCollapse.Warning));
            warning.LinePattern = LinePattern.Dotted;
            warning.LegendText = "attention_entropy_collapse Warning";
        }

        foreach (int s in spikes)
        {
            attention.Add.VerticalLine(s).Color = Colors.Red;
        }

        attention.YLabel("log10 entropy");

        var alarms = new Plot();
        IDetector[] shown =
        [
            new MonitorLevelDetector(MonitorConfigurations.Default, AlertLevel.Warning),
            new MonitorLevelDetector(MonitorConfigurations.Dense, AlertLevel.Warning),
            DetectorCatalog.All.First(d => d.Family.StartsWith("ZClip", StringComparison.Ordinal)),
        ];
        for (int k = 0; k < shown.Length; k++)
        {
            if (!shown[k].Applies(run))
            {
                continue;
            }

            var alarm = shown[k].Alarm(run);
            var state = alarms.Add.Scatter(steps, alarm.Select(on => (on ? 0.8 : 0) + (1.2 * k)).ToArray());
            state.ConnectStyle = ConnectStyle.StepHorizontal;
            state.MarkerSize = 0;
            state.LegendText = shown[k].Name;
        }

        foreach (int s in spikes)
        {
            alarms.Add.VerticalLine(s).Color = Colors.Red;
        }

        alarms.YLabel("alarm on");
        alarms.XLabel("step");
        foreach (var p in new[] { loss, edge, attention, alarms })
        {
            p.ShowLegend(Alignment.UpperLeft);
            p.Axes.SetLimitsX(0, run.StepsRun);
        }

        return [loss, edge, attention, alarms];
    }

    /// <summary>One SVG of several panels, side by side or stacked, each rendered by ScottPlot at width × height.</summary>
    internal static string Compose(IReadOnlyList<Plot> panels, bool sideBySide, int width, int height)
    {
        int totalWidth = sideBySide ? width * panels.Count : width;
        int totalHeight = sideBySide ? height : height * panels.Count;
        var svg = new System.Text.StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{totalWidth}\" height=\"{totalHeight}\" viewBox=\"0 0 {totalWidth} {totalHeight}\">");
        for (int i = 0; i < panels.Count; i++)
        {
            string inner = panels[i].GetSvgXml(width, height);
            int start = inner.IndexOf("<svg", StringComparison.Ordinal);
            string offset = sideBySide
                ? string.Create(CultureInfo.InvariantCulture, $"<svg x=\"{i * width}\" y=\"0\"")
                : string.Create(CultureInfo.InvariantCulture, $"<svg x=\"0\" y=\"{i * height}\"");
            // Each panel's clip paths get their own ids: ScottPlot numbers them from the same start in every render.
            string body = inner[(start + 4)..].Replace("id=\"cl_", $"id=\"p{i}cl_", StringComparison.Ordinal).Replace("url(#cl_", $"url(#p{i}cl_", StringComparison.Ordinal);
            svg.Append(offset).Append(body);
        }

        svg.Append("</svg>");
        return svg.ToString();
    }
}
